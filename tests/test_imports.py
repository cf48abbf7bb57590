import subprocess
import sys


def test_import_is_lazy():
    """`import quanhuiqi` must not pull in mlflow, lightgbm or pyspark."""
    code = (
        "import sys, quanhuiqi\n"
        "heavy = [m for m in ('mlflow', 'lightgbm', 'pyspark') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
