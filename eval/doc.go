// Package eval measures rankings of fixed candidate sets: the ranking
// metrics and need diagnostics (one Metric function type, formulas in the
// doc comments), the baseline rankers (random, prompt order, popularity,
// recent popularity, item-KNN, user-KNN, matrix factorisation) and the LLM
// ranker, the evaluation of rankers × needs × episodes with seeded
// bootstrap confidence intervals, and the reports written from it
// (Markdown, JSON, CSV and a self-contained HTML page).
//
// Rankers are fitted on training interactions only (dataset.Split.Train);
// they never see Episode.Labels. Labels are read only by the metrics and by
// the Oracle ranker, which exists to bound what a ranker can reach.
package eval
