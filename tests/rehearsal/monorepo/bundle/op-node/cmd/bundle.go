package main

// From v1.19.1 op-node links op-core/superchain, which embeds the generated bundle.
import "github.com/ethereum-optimism/optimism/op-core/superchain"

func init() { bundleCheck = superchain.Check }
