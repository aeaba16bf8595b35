"""``python -m newsarc``."""

from newsarc.cli import main

if __name__ == "__main__":
    main()
