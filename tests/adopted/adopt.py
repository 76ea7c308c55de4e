"""Add this folder's features to a copy of the project, as a new user would: `featwright doc
new RESOURCE`, the doc's fields and list filters filled in (RESOURCE.rows, RESOURCE.query),
then `featwright add`. Run by .ci/adopted.sh inside the copy, with its venv."""

import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
FEATURES = ["work_logs", "invoices"]  # in order: invoices reference work logs
TEMPLATE_FIELD = "| name | str(1..200) | yes | - | Display name |\n"
TEMPLATE_QUERY = "| Query Params | page (int, default 1), limit (int, default 20) |\n"


def featwright(*args: str) -> str:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("featwright")), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"featwright {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done.stdout + done.stderr


def main() -> None:
    for resource in FEATURES:
        featwright("doc", "new", resource)
        (doc,) = Path("docs/features").glob(f"FEAT-*-{resource}.md")
        text = doc.read_text(encoding="utf-8")
        created = re.search(r"^\| Response 201 \| \w+Response \|\n", text, re.MULTILINE)
        assert created, f"{doc}: no Response 201 row"
        for old, new in (
            (TEMPLATE_FIELD, (HERE / f"{resource}.rows").read_text(encoding="utf-8")),
            (TEMPLATE_QUERY, (HERE / f"{resource}.query").read_text(encoding="utf-8")),
            (created[0], created[0] + "| Response 404 | NotFoundError (the referenced row) |\n"),
        ):
            assert text.count(old) == 1, f"{doc}: {old!r} not found once"
            text = text.replace(old, new)
        doc.write_text(text, encoding="utf-8")
        print(featwright("add", str(doc)))


if __name__ == "__main__":
    main()
