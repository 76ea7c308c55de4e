"""`featwright doc new NAME`: a new design doc from the template, names filled in."""

import re
from pathlib import Path
from string import Template

TEMPLATE = Path(__file__).parent / "templates" / "design_doc.md"


class DocNameError(ValueError):
    pass


def singular(resource: str) -> str:
    if resource.endswith("ies"):
        return resource[:-3] + "y"
    if re.search(r"(ss|us|x|z|ch|sh)es$", resource):
        return resource[:-2]
    return resource.removesuffix("s")


def new_doc(resource: str, docs_dir: Path, template: Path = TEMPLATE) -> Path:
    """Write `FEAT-NNN-<resource>.md` from `template` (the built-in one by default) with the
    next free number; never overwrites."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*s", resource):
        raise DocNameError(
            f"resource name {resource!r}; expected a plural snake_case name such as 'labels'"
        )
    existing = [p for p in docs_dir.glob("FEAT-*.md") if p.stem.split("-", 2)[2:] == [resource]]
    if existing:
        raise DocNameError(f"{existing[0]} already describes {resource!r}")
    numbers = [
        int(m[1]) for p in docs_dir.glob("FEAT-*.md") if (m := re.match(r"FEAT-(\d+)", p.name))
    ]
    feat_id = f"FEAT-{max(numbers, default=0) + 1:03d}"
    module = singular(resource)
    model = "".join(part.capitalize() for part in module.split("_"))
    try:
        text = Template(template.read_text(encoding="utf-8")).substitute(
            feat_id=feat_id,
            title=" ".join(part.capitalize() for part in resource.split("_")),
            resource=resource,
            module=module,
            model=model,
            model_lower=module.replace("_", " "),
        )
    except (KeyError, ValueError) as error:  # a project's own template with a bad placeholder
        raise DocNameError(
            f"{template.name}: placeholder {error} is not one of $feat_id, $title, $resource,"
            " $module, $model, $model_lower ($$ for a dollar sign)"
        ) from None
    docs_dir.mkdir(parents=True, exist_ok=True)
    path = docs_dir / f"{feat_id}-{resource}.md"
    with path.open("x", encoding="utf-8") as file:  # "x": fail rather than overwrite
        file.write(text)
    return path
