#!/bin/bash
# A Slurm job array running examples/shards/job.yaml as 4 shards: task k runs
# `flexrec run --shard k/4` into out/shard-k. A requeued or resubmitted task
# resumes its shard. Submit, then merge once every task has succeeded:
#
#   jid=$(sbatch --parsable examples/shards/slurm-array.sh)
#   sbatch --dependency=afterok:$jid --wrap 'flexrec merge --out out/job out/shard-0 out/shard-1 out/shard-2 out/shard-3'
#
# The key comes from the environment (export OPENAI_API_KEY before sbatch, or
# --api-key-file); flexrec never writes it.
#SBATCH --job-name=flexrec-shards
#SBATCH --array=0-3
#SBATCH --cpus-per-task=2
#SBATCH --mem=2G
#SBATCH --time=08:00:00
#SBATCH --requeue
#SBATCH --output=out/slurm-%A_%a.log
set -euo pipefail
n=${SLURM_ARRAY_TASK_COUNT:-4}
k=${SLURM_ARRAY_TASK_ID:?run me with sbatch --array}
exec flexrec run --config examples/shards/job.yaml --shard "${k}/${n}" --out "out/shard-${k}" --log-format json
