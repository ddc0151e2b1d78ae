package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/flexrec/flexrec/pipeline"
)

// TestShardExamples checks the shard examples: the job loads, the
// Indexed Job's completions equal the n of its --shard, and the Slurm
// array runs the same job with SLURM_ARRAY_TASK_ID as k.
func TestShardExamples(t *testing.T) {
	_, err := pipeline.LoadJob("../../examples/shards/job.yaml")
	require.NoError(t, err, "examples/shards/job.yaml")
	raw, err := os.ReadFile("../../examples/shards/k8s-indexed-job.yaml")
	require.NoError(t, err)
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	var job struct {
		Spec struct {
			CompletionMode string `yaml:"completionMode"`
			Completions    int    `yaml:"completions"`
			Template       struct {
				Spec struct {
					Containers []struct {
						Args []string `yaml:"args"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	require.NoError(t, dec.Decode(&job), "decode the Indexed Job")
	assert.Equal(t, "Indexed", job.Spec.CompletionMode)
	require.Len(t, job.Spec.Template.Spec.Containers, 1)
	args := strings.Join(job.Spec.Template.Spec.Containers[0].Args, " ")
	assert.Contains(t, args, `--shard "${JOB_COMPLETION_INDEX}/4"`)
	assert.Equal(t, 4, job.Spec.Completions, "completions: the n of --shard")
	slurm, err := os.ReadFile("../../examples/shards/slurm-array.sh")
	require.NoError(t, err)
	assert.Contains(t, string(slurm), "#SBATCH --array=0-3")
	assert.Contains(t, string(slurm), `--shard "${k}/${n}"`)
	assert.Contains(t, string(slurm), "--config examples/shards/job.yaml")
}
