// Package rank reads a language model's answer to a ranking prompt as a
// permutation of the closed candidate set. It owns three steps, each a plain
// function of its inputs:
//
//   - Parse finds the model's final ranking in free text (reasoning first,
//     <think> blocks, numbered lists, JSON, code fences, full-width forms,
//     titles instead of ids) and reports what it saw: the ids generated, in
//     order, with their byte spans, and the unknown, duplicated and missing
//     ids, whether the answer was cut short and whether it kept the format.
//   - Repair completes the permutation under a named Policy and marks the
//     appended tail as not generated.
//   - Align maps each generated id to the range of tokens that wrote it and
//     their summed log probability, for token-level credit.
//
// Parse is total: it never panics and never fails; whatever it had to guess
// or repair is in the Result. A Parser reuses its buffers across calls for
// allocation-light hot paths.
//
// Id spans cover the delimiters written around an id: `[12]` (brackets
// included), `"12"` in JSON (quotes included), `12` for a bare number and
// the matched text for a title. The tokens that wrote the brackets therefore
// get the item's credit; separators such as ` > ` and `, ` belong to no item.
package rank
