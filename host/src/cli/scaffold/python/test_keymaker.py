"""Unit tests of how the secret is made, run natively by `make test`."""
import unittest
from types import SimpleNamespace

import keymaker


def pairs(**values):
    return [SimpleNamespace(key=key, value=value) for key, value in values.items()]


class Prefix(unittest.TestCase):
    def test_the_prefix_is_optional(self):
        self.assertEqual(keymaker.prefix([]), "")
        self.assertEqual(keymaker.prefix(pairs(prefix="sk_")), "sk_")

    def test_a_long_prefix_is_a_config_error(self):
        with self.assertRaises(keymaker.ConfigError):
            keymaker.prefix(pairs(prefix="x" * 17))


class Ours(unittest.TestCase):
    def test_only_a_full_length_secret_is_ours(self):
        self.assertTrue(keymaker.is_ours("ab" * 32))
        self.assertFalse(keymaker.is_ours("short"))


if __name__ == "__main__":
    unittest.main()
