"""What the one-task fine-tuning diagnostics (restarts.py, frozen.py) share: their
arguments, and the pretrained, locked root plus one task's data they start from."""

import os
import tempfile

from benchmarks import results
from benchmarks.quality import settings


def add_arguments(parser, name, steps_help, validations_help):
    parser.add_argument("--quick", action="store_true", help="smallest setting (tests)")
    parser.add_argument("--task", help="default fashion_mnist (digits with --quick)")
    parser.add_argument("--steps", type=int, help=steps_help)
    parser.add_argument("--validations", type=int, default=3, help=validations_help)
    parser.add_argument("--batch-size", type=int, help="default 128 (32 with --quick)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--pretrain-on", default="mnist_t10k", metavar="DATASET")
    parser.add_argument("--name", default=name)
    parser.add_argument("--output-dir", default=results.DEFAULT_OUTPUT)
    parser.add_argument("--data-dir", default=os.environ.get("MUNET_TFDS_DATA_DIR"))


def parse_arguments(parser):
    args = parser.parse_args()
    for name in ("steps", "validations", "batch_size", "repeats"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1; received {value}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["MUNET_TRACKING"] = "off"
    return args


def prepare(args, prefix):
    """(root, config, task, spec, pretraining, store, manifest) for `args`: the quality
    benchmark's pretrained root in a new system, and the task's data prepared."""
    from munet.data import catalog
    from munet.store.repository import SystemStore
    from munet.system import init_system
    from munet.training.pretrain import DEFAULT_STEPS, pretrain_root

    root, config = settings(args.quick, pretrained=True)
    task = args.task or ("digits" if args.quick else "fashion_mnist")
    config["steps"] = args.steps or (30 if args.quick else 500)
    config["batch_size"] = args.batch_size or (32 if args.quick else 128)
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="munet-tfds-")
    spec = catalog.prepare(task, data_dir)
    spec["splits"] = catalog.resolve_splits(spec, carve_percent=10)
    weights, pretraining = pretrain_root(root, args.pretrain_on,
                                         30 if args.quick else DEFAULT_STEPS, data_dir=data_dir)
    uri = tempfile.mkdtemp(prefix=prefix)
    init_system(uri, root, root_weights=weights, pretraining=pretraining)
    store = SystemStore(uri)
    return root, config, task, spec, pretraining, store, store.load()
