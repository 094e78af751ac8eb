"""The worker process: arq jobs that apply events, fan batches out and deploy versions."""
