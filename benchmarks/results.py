"""Writing a benchmark's results: JSON, a Markdown table and PNG plots, each saying
which command produced them and on which machine."""

import json
import os
import platform
import shlex
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUTPUT = os.path.join(REPO, "docs", "benchmarks")


def command_line():
    script = os.path.relpath(os.path.abspath(sys.argv[0]), REPO)
    return " ".join(["python", script] + [shlex.quote(a) for a in sys.argv[1:]])


def cpu_model():
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine():
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.0f} GiB"
    except (ValueError, OSError):
        pass
    return (f"{cpu_model()}, {os.cpu_count()} cores{memory}, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}")


def write(name, result, markdown, output_dir, figures=()):
    """Writes <name>.json and <name>.md (plus the given figures) under `output_dir`.

    `figures` are (file name, matplotlib Figure) pairs.
    """
    os.makedirs(output_dir, exist_ok=True)
    result = dict(result, command=command_line(), machine=machine())
    with open(os.path.join(output_dir, f"{name}.json"), "w") as handle:
        json.dump(result, handle, indent=1, sort_keys=True)
    header = (f"Command: `{result['command']}`  \nMachine: {result['machine']}\n\n")
    with open(os.path.join(output_dir, f"{name}.md"), "w") as handle:
        handle.write(markdown.replace("\n\n", "\n\n" + header, 1) if "\n\n" in markdown
                     else markdown + "\n\n" + header)
    for file_name, figure in figures:
        figure.savefig(os.path.join(output_dir, file_name), dpi=100)
    print(f"Wrote {output_dir}/{name}.json, {name}.md"
          + "".join(f", {f}" for f, _ in figures))
    return result


def subplots(*args, **kwargs):
    """pyplot.subplots on the file-only Agg backend (no display here or in CI)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot.subplots(*args, **kwargs)


def write_with_plot(name, quick, result, markdown, output_dir, figure):
    """write() as <name> (<name>-quick for a quick run), the figure as <that name>.png."""
    figure.tight_layout()
    name = f"{name}-quick" if quick else name
    return write(name, result, markdown, output_dir, [(f"{name}.png", figure)])
