"""shequ：社区民政台账的导入、校验与服务（importable package behind the `shequ` CLI）."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
