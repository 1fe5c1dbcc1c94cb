"""``python -m rankdistill`` is the ``rankdistill`` command."""

from rankdistill.cli.main import app

if __name__ == "__main__":
    app()
