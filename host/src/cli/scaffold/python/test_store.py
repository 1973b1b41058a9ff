"""Unit tests of what the target knows of where it stores keys, run natively by `make test`."""
import unittest
from types import SimpleNamespace

import contract
import store


def pairs(**values):
    return [SimpleNamespace(key=key.replace("_", "-"), value=value) for key, value in values.items()]


class Settings(unittest.TestCase):
    def test_a_base_url_a_path_and_the_admin_token_are_needed(self):
        with self.assertRaises(contract.InvalidConfig):
            store.settings([], [])
        with self.assertRaises(contract.InvalidConfig):
            store.settings(pairs(base_url="https://config.example.com", path="no-slash"), pairs(admin_token="t"))
        place = store.settings(pairs(base_url="https://config.example.com/", path="/apps/shop/api-key"), pairs(admin_token="t"))
        self.assertEqual(place.url, "https://config.example.com/apps/shop/api-key")


class Verdict(unittest.TestCase):
    def test_the_verdict_tells_whether_the_key_is_stored_never_the_key(self):
        place = store.Place(url="https://config.example.com/k", admin="t")
        self.assertEqual(store.verdict(place, b"s3cret", "s3cret")[0], True)
        valid, detail = store.verdict(place, b"0ld-s3cret", "s3cret")
        self.assertFalse(valid)
        self.assertNotIn("s3cret", detail)
        self.assertFalse(store.verdict(place, None, "s3cret")[0])

    def test_statuses_map_to_the_contracts_errors(self):
        for status, error in [(401, contract.Unauthorized), (503, contract.Unavailable), (400, contract.Rejected)]:
            with self.assertRaises(error):
                contract.check("PUT", "u", contract.Answer(status, b""))


if __name__ == "__main__":
    unittest.main()
