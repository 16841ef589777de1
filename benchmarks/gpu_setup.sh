# Make the lent GPU machine's image (torch, lightning, pandas) run forecaster: the packages it
# lacks come as wheels in .whl (see BENCHMARKS.md "GPU"), forecaster itself as an editable install.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . >/dev/null || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv,noheader
python3 -c "import torch, lightning, pandas; print('torch', torch.__version__, 'cuDNN', torch.backends.cudnn.version(), 'lightning', lightning.__version__, 'pandas', pandas.__version__, 'cores', __import__('os').cpu_count())"
