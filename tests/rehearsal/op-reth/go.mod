module example.invalid/op-reth-standin

go 1.19
