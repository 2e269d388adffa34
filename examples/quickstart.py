"""petro quick start: the service docs' own snippets, with `import petro as r`.

Runs against petro's built-in emulator by default, so it works on a fresh machine
with no account. Set PETRO_BASE_URL (and PETRO_APP_ID / PETRO_SECRET_KEY /
PETRO_TOKEN, PETRA_BASE_URL / PETRA_API_KEY) to run the same code against the
real services.

    python examples/quickstart.py
"""

import os
from pprint import pprint

import petro as r  # the only line that changed: was `import requests as r`


def docs_snippets() -> None:
    """The Petro.ai and Petra Security docs' examples, unchanged but for the import."""
    base = os.environ.get("PETRO_BASE_URL", "https://yourcompany.petro.ai")

    # Petro.ai, "Using App ID": HTTP Basic with the App ID and the Secret Key.
    appid = os.environ.get("PETRO_APP_ID", "7d54ac3f46493ff662f224e1ab2f1642")
    apikey = os.environ.get("PETRO_SECRET_KEY", "b082c84e856987a9cb7ac9500ac54fc9")
    url = base + "/api/data"
    resp = r.post(
        url,
        auth=(appid, apikey),
        json={"type": "petron", "data": [{"name": "My Petron!", "description": "The first one!"}]},
    )
    pprint(resp.json())

    # Petro.ai, "Using your JWT": a Bearer token copied from the browser, valid 4 hours.
    token = os.environ.get("PETRO_TOKEN", "")
    headers = {"Authorization": "Bearer " + token}
    url = base + "/api/data/query"
    resp = r.post(
        url, headers=headers, json={"type": "petron", "query": {}, "options": {"limit": 10}}
    )
    pprint(resp.json())

    # Petra Security: GET /beta/usage with a Bearer API key.
    petra = os.environ.get("PETRA_BASE_URL", "https://api.petrasecurity.com")
    resp = r.get(
        petra + "/beta/usage",
        headers={
            "Authorization": "Bearer " + os.environ.get("PETRA_API_KEY", "YOUR_API_KEY"),
            "Content-Type": "application/json",
        },
    )
    print(resp.status_code)
    pprint(resp.json())


def main() -> None:
    if os.environ.get("PETRO_BASE_URL"):
        print("Using the services at", os.environ["PETRO_BASE_URL"])
        docs_snippets()
        return
    with r.Emulator() as emu:
        print("Using petro's built-in emulator at", emu.url)
        os.environ.update(emu.env())
        try:
            docs_snippets()
        finally:
            for name in emu.env():
                os.environ.pop(name, None)


if __name__ == "__main__":
    main()
