"""newsarc: archive and search Chinese-language news."""
