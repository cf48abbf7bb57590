import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_is_lazy():
    """`import quanhuiqi` must not pull in mlflow, lightgbm or pyspark."""
    code = (
        "import sys, quanhuiqi\n"
        "heavy = [m for m in ('mlflow', 'lightgbm', 'pyspark') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


HEAVY = ("sklearn", "scipy", "lightgbm", "mlflow", "jieba", "pyspark", "duckdb")


def test_the_eligibility_command_imports_no_model_library(tmp_path):
    """``quanhuiqi eligibility`` (read → validate → profile → evaluate → write) imports none of the model or text
    libraries: scikit-learn alone (via scipy) was 1.5 of its 10 CPU seconds on a 100k city (issue 15).  The whole
    command runs on the sample data in a fresh interpreter, and what it imported is listed."""
    code = (
        "import sys, quanhuiqi, quanhuiqi.cli as cli\n"
        f"cli.main(['eligibility', '--enterprises', {str(ROOT / 'data_samples' / 'enterprises.csv')!r}, '--policies', "
        f"{str(ROOT / 'data_samples' / 'policies')!r}, '--as-of', '2025-07-01', '--out', {str(tmp_path / 'p.parquet')!r}])\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
    assert (tmp_path / "p.parquet").exists()
