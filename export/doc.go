// Package export turns rollout records (package rollout's JSON Lines) into
// training data that external trainers load as is: the native records as
// JSONL and Parquet for custom PPO/GRPO trainers, TRL's conversational
// preference, KTO and GRPO prompt datasets, verl's Parquet prompt dataset
// and OpenRLHF's preference data. It owns those file formats, the pairing
// of rollouts into preferences, the manifest written beside every export,
// and the streaming, crash-safe writing of all of them.
//
// It is its own package because none of this is reward arithmetic: the
// rewards and advantages are computed once, by package rl, and carried in
// the records; export only re-expresses them in the column layouts other
// projects (TRL, verl, OpenRLHF) define, and those layouts change on those
// projects' schedules, not rl's.
//
// Export streams: it reads one episode group (the contiguous records of
// one episode) at a time and never holds more than one group, a Parquet
// row group and the footer metadata of one Parquet shard in memory,
// whatever the size of the input: Parquet outputs are split into files
// of at most Config.ParquetShardRows rows. Every file is written under a
// temporary name in the output folder, synced and renamed when the export
// succeeds; manifest.json is written last, so a folder without a manifest
// holds no finished export.
package export
