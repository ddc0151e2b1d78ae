// Package prompt owns the data every later stage shares and the closed-set
// ranking prompt built from it: needs (what the user wants from a ranking,
// with the gain rule that scores it), episodes (one user, one need, one fixed
// candidate set), and the chat messages that ask a model to rank the
// candidates under short ids [1]..[N].
//
// Rendering is a pure function of an episode, a need, a template and a seed;
// loading needs and templates from files is the only I/O.
package prompt
