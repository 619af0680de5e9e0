// Package shop holds the workflows' contracts and the vocabulary the
// workflows, activities, store and bot share: workflow IDs and type names,
// the messages that pass between workflows, and the statuses operators see
// in the Temporal UI. Whoever starts or talks to a workflow uses only this
// package. It imports neither workflows nor activities, and it does I/O only
// through the Temporal client a caller hands to a start helper, so every
// layer, the bot included, can import it.
package shop

// Each workflow's contract (its ID, type name, the names of its signals,
// updates and queries, its input and state types, and the helpers that
// start it) is in the file named after the workflow; vocabulary.go holds
// the values several workflows and the database share, errors.go the
// error types callers branch on.
