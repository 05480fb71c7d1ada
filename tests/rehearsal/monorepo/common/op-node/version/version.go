// Package version: set at build time with -X, as upstream's op-node/version.
package version

var (
	Version = "v0.0.0"
	Meta    = "dev"
)
