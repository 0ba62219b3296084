"""The Jobdeck command-line client: `jobdeck --help`. It talks to a Jobdeck server over
the REST API only, with a personal API token."""
