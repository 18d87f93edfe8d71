"""Plan files: one small file per shard under ``<output_dir>/.imageprep/plans/``, its
members with their inputs' sizes and mtimes (a bucket's: as listed), written by the main
Snakemake process and rewritten only when that content changes, so that Snakemake re-runs
exactly the shards whose plan file is newer than their rows. A job reads its plan file and
nothing else of the input tree (on a cluster node too)."""

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from imageprep.folder.bucket_side import outputs_listed, push_rows, remote, take_rows
from imageprep.folder.layout import KEPT_ROWS, PLANS
from imageprep.folder.manifest import ENCODING, Row, manifest_text, read_manifest
from imageprep.folder.records import tsv_cell, tsv_uncell
from imageprep.folder.rows import InputStat
from imageprep.image.atomic import write_atomically
from imageprep.image.diagnose import OutputError, SourceError
from imageprep.run.plan import ConfigError, Plan
from imageprep.run.shards import kept_rows_path, shard_rows_path, written_at


def plan_path(output_dir: str, name: str) -> str:
    return f"{output_dir}/{PLANS}/{name}.csv"


def _plan_text(
    input_dir: str,
    members: Iterable[tuple[str, str]],
    stats: bool,
    listed: Mapping[str, InputStat] | None = None,
) -> bytes:
    """One line per member, tab-separated: input, output, input size, input mtime in ns
    (names escaped as in failed.tsv: records.tsv_cell); from a bucket's ``listed`` sizes and
    dates where given, so that its job asks nothing of the bucket but its images."""
    lines = []
    for rel, out in members:
        size = mtime = ""
        if listed is not None:
            size, mtime = map(str, listed[rel])
        elif stats:
            try:
                st = os.stat(f"{input_dir}/{rel}")
                size, mtime = str(st.st_size), str(st.st_mtime_ns)
            except OSError:  # gone since discovery: the job says so, in its own words
                pass
        lines.append(f"{tsv_cell(rel)}\t{tsv_cell(out)}\t{size}\t{mtime}\n")
    return "".join(lines).encode(**ENCODING)


def write_if_changed(path: str | os.PathLike, data: bytes) -> bool:
    """Write ``data`` unless ``path`` holds it already (its date then says when it last
    changed, which is what Snakemake compares). Returns whether it wrote."""
    try:
        if Path(path).read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    write_atomically(path, data)
    return True


def take_plan(output_dir: str, name: str) -> None:
    """A shard job's own Snakemake with a default storage provider: its plan file, from the
    bucket (bucket_side.publish_plans), written where the local side has it unless it holds
    that already (a node that shares the working directory). Raises OutputError."""
    bucket = remote(output_dir)
    assert bucket is not None
    rel = f"{PLANS}/{name}.csv"
    try:
        data = bucket.get(rel)
    except FileNotFoundError:
        raise OutputError(f"{bucket.url}/{rel}", "no such plan file (the run's main "
                          "Snakemake puts it before any job: run it again)") from None  # fmt: skip
    except SourceError as exc:
        raise OutputError(f"{bucket.url}/{rel}", str(exc)) from None
    write_if_changed(plan_path(output_dir, name), data)


def write_plan_text(path: str | os.PathLike, members: Iterable[tuple[str, str]]) -> bool:
    """A plan file of (input, output) members without dates, written if it changed."""
    return write_if_changed(path, _plan_text("", members, stats=False))


def read_plan(path: str | os.PathLike) -> tuple[list[tuple[str, str]], dict[str, InputStat]]:
    """(input, output) of each member, relative to input_dir and output_dir, and the input
    sizes and dates the file records, by input: what a job from a bucket takes for each
    image's stat (its listing's), rather than asking the bucket again."""
    text = Path(path).read_bytes().decode(**ENCODING)
    members, stats = [], {}
    for line in text.split("\n")[:-1]:  # not splitlines(): names may hold \x0c, \u2028...
        cells = line.split("\t")
        rel, out = tsv_uncell(cells[0]), tsv_uncell(cells[1])
        members.append((rel, out))
        size, mtime = (cells[2], cells[3]) if len(cells) == 4 else ("", "")
        if size and mtime:
            stats[rel] = InputStat(int(size), int(mtime))
    return members, stats


def write_plan_files(
    plan: Plan,
    shards: Mapping[str, list[tuple[str, str]]],
    stats: bool = True,
) -> None:
    """Write each shard's plan file ((input, key) members) where its content changed, and
    mark a shard's variant to be run again (its declared rows removed) where an image it
    made is missing or an output was written after its rows (changed behind the
    workflow's back); remove the plan files of shards that no longer exist.
    ``stats=False``: members are declared inputs of their job (the generated demo set),
    Snakemake tracks their dates.
    """
    folder = Path(plan.output_dir, PLANS)
    present: dict[str, dict[str, int]] = {}  # per variant folder, listed once if needed
    bucket = remote(plan.output_dir) is not None  # its jobs trust the kept rows: all checked
    for name, members in shards.items():
        path = plan_path(plan.output_dir, name)
        changed = write_if_changed(path, _plan_text(plan.input_dir, members, stats, plan.stats))
        if bucket or not changed:
            _recheck(plan, name, members, present)
    if bucket:
        _recheck_other_counts(plan, shards, present)
    for stale in folder.glob("*.csv"):
        if stale.stem not in shards:
            stale.unlink(missing_ok=True)


def take_bucket_rows(plan: Plan) -> None:
    """An output folder in a bucket: the kept rows its bucket holds become the local side's
    (bucket_side.take_rows), before either path reads them."""
    for folder in plan.folders():
        if remote(folder) is not None:
            take_rows(folder)


def recheck_outputs(plan: Plan, shards: Mapping[str, list[tuple[str, str]]]) -> None:
    """The pool's check of an output folder in a bucket, whose workers never list it: what
    write_plan_files checks, for every shard, from one listing of the bucket."""
    present: dict[str, dict[str, int]] = {}
    for name, members in shards.items():
        _recheck(plan, name, members, present)
    _recheck_other_counts(plan, shards, present)


def _recheck_other_counts(
    plan: Plan, shards: Mapping[str, object], present: dict[str, dict[str, int]]
) -> None:
    """A bucket folder's kept rows of another shard count (the count just changed): a job
    takes rows from them (shards.PreviousRows), so they are checked against the listing too,
    until the run's finish removes them."""
    for root in plan.folders():
        kept = Path(root, KEPT_ROWS)
        others = [p for p in kept.glob("*.csv") if p.stem not in shards]
        for path in others:
            present.setdefault(root, _listed(root))
            _forget_replaced(path, present[root])


def _recheck(
    plan: Plan, name: str, members: list[tuple[str, str]], present: dict[str, dict[str, int]]
) -> None:
    for variant, root in zip(plan.variants, plan.folders(), strict=True):
        manifest = shard_rows_path(root, name)
        # a bucket folder's kept rows: the same rows, and here also when the declared ones
        # are not (the pool keeps none; a default storage provider keeps them there)
        bucket = remote(root) is not None
        rows = str(kept_rows_path(manifest)) if bucket else manifest
        if not os.path.exists(rows):
            continue
        if root not in present:
            present[root] = _listed(root)
        # what must be there (and not newer than the rows): the file each output is in
        # (with tars, the shard's tar)
        stored_in = variant.writer.stored_in
        outs = [(rel, stored_in(name, variant.output(rel))) for rel, _ in members]
        if _out_of_date(outs, present[root], rows):
            # Snakemake re-runs a job whose declared output is gone, whatever its
            # settings (a plan file touched with the same content is not newer to it
            # when it compares checksums); the job still finds its rows beside it
            # (kept_rows_path) and redoes exactly the members that are not current.
            Path(manifest).unlink(missing_ok=True)
            if bucket:
                _forget_replaced(kept_rows_path(manifest), present[root])


def _forget_replaced(kept: Path, present: Mapping[str, int]) -> None:
    """A bucket folder's kept rows without those whose output the listing contradicts
    (its file, or its tar, gone or dated after the rows): its jobs, which do not list the
    bucket, then make exactly those again. The bucket gets them too (a job on a node takes
    its rows from there), and their new date from it."""
    written = written_at(kept)
    rows = read_manifest(kept)
    keep = [
        row
        for row in rows.values()
        if row.status != "ok" or present.get(row.tar or row.output, written + 1) <= written
    ]
    if len(keep) < len(rows):
        write_atomically(kept, manifest_text(keep))
        push_rows(kept)


def _listed(root: str) -> dict[str, int]:
    if remote(root) is not None:
        return outputs_listed(root)
    try:
        return dict(_files_under(root))
    except FileNotFoundError:
        return {}
    except OSError as exc:
        where = exc.filename or root
        raise ConfigError(f"output_dir: cannot list {where!r}: {exc.strerror}") from None


def _out_of_date(outs: list[tuple[str, str]], present: Mapping[str, int], rows: str) -> bool:
    """Against the shard's ``rows`` (declared, or for a bucket folder kept)."""
    written = written_at(kept_rows_path(rows))
    missing = [(rel, out) for rel, out in outs if out not in present]
    return (
        not written  # no rows kept: nothing is known to be current
        or any(present.get(out, 0) > written for _, out in outs)  # changed since
        or bool(missing and _unexplained(missing, read_manifest(rows)))
    )


def _unexplained(missing: list[tuple[str, str]], rows: Mapping[str, Row]) -> bool:
    """Whether an output is missing that its row says was made (deleted since, say), or
    that has no row."""
    return any(rows.get(rel) is None or rows[rel].status == "ok" for rel, _ in missing)


def _files_under(folder: str) -> Iterable[tuple[str, int]]:
    """Relative paths and mtimes of the files under ``folder``, hidden ones (and folders)
    left out: one scandir per folder, one stat per file."""
    stack = [(folder, "")]
    while stack:
        path, prefix = stack.pop()
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, prefix + entry.name + "/"))
                else:
                    yield prefix + entry.name, entry.stat(follow_symlinks=False).st_mtime_ns
