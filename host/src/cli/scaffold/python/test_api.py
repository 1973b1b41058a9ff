"""Unit tests of what the provider knows of its API, run natively by `make test`."""
import unittest
from types import SimpleNamespace

import api
import contract


def pairs(**values):
    return [SimpleNamespace(key=key.replace("_", "-"), value=value) for key, value in values.items()]


class Answers(unittest.TestCase):
    def test_a_create_answer_gives_the_key(self):
        self.assertEqual(api.parse_created(b'{"id": "k1", "secret": "s3cret"}'), ("k1", "s3cret"))
        with self.assertRaises(contract.Rejected):
            api.parse_created(b'{"id": "k1"}')

    def test_a_listing_keeps_each_keys_name(self):
        self.assertEqual(api.parse_listed(b'[{"id": "k1", "name": "rekey r1"}, {"name": "no id"}]'), [("k1", "rekey r1")])

    def test_statuses_map_to_the_contracts_errors(self):
        for status, error in [(401, contract.Unauthorized), (404, contract.NotFound), (503, contract.Unavailable), (400, contract.Rejected)]:
            with self.assertRaises(error):
                contract.check("GET", "u", contract.Answer(status, b""))


class Settings(unittest.TestCase):
    def test_a_base_url_is_needed_and_the_defaults_apply(self):
        with self.assertRaises(contract.InvalidConfig):
            api.settings([], [])
        s = api.settings(pairs(base_url="https://api.example.com/"), pairs(admin_token="t"))
        self.assertEqual((s.base, s.keys_path, s.verify_path), ("https://api.example.com", "/keys", "/me"))


if __name__ == "__main__":
    unittest.main()
