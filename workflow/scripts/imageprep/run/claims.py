"""What the imageprep instances of one workflow (a parent Snakefile importing it as several
modules) claim, so that they never collide: each its output folder, and one of them each
file set they would all make alike (the demo images)."""

from pathlib import Path

# Output folders claimed by the instances of one workflow (id of Snakemake's Workflow ->
# resolved output_dir -> instance name): two instances must never share or nest one.
_CLAIMED: dict[int, dict[Path, str]] = {}


def first_claim(workflow_id: int, what: str) -> bool:
    """Whether this instance is the first in its workflow to claim ``what`` (a file set all
    instances would make alike, such as the demo images: one rule makes them for all)."""
    claimed = _CLAIMED.setdefault(workflow_id, {})
    key = Path("\0" + what)  # no real path starts with NUL
    if key in claimed:
        return False
    claimed[key] = what
    return True


def claim_output_dir(workflow_id: int, output_dir: str, instance: str) -> str | None:
    """Why a second instance of imageprep in one workflow cannot write ``output_dir``: it
    is another's output folder, inside it or around it, and their files would collide;
    None when it is free (and now claimed)."""
    mine = Path(output_dir).resolve()
    claimed = _CLAIMED.setdefault(workflow_id, {})
    for other, name in claimed.items():
        if name != instance and (other == mine or other in mine.parents or mine in other.parents):
            return (
                f"output_dir: {output_dir!r} of {instance} overlaps {str(other)!r} of {name}; "
                "give each imageprep instance its own output folder"
            )
    claimed[mine] = instance
    return None
