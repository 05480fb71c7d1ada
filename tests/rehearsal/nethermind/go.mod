module example.invalid/nethermind-standin

go 1.19
