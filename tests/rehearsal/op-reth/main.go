// A stand-in for op-reth in the rehearsal, at /usr/local/bin/op-reth of the stand-in
// base image, started exactly as the real binary would be (by the production entry
// point, with its flags). It does what the kit relies on:
//   - `--version`: the long version, as reth-family binaries print it (first line
//     "op-reth Version: X.Y.Z"; the exact text of v2.10.0 is not verified);
//   - `dump-genesis --chain NAME`: exit 0 with a genesis for a chain it knows (a few
//     of what op-reth's chain_value_parser accepts) or a readable genesis file, and
//     clap's exit 2 with its "invalid value" line otherwise;
//   - `node FLAGS`: refuses a flag op-reth does not have (the list below, from the CLI
//     snapshot rust/op-reth/crates/cli/tests/snapshots/cli.snap,
//     ethereum-optimism/optimism@29289555), opens <--datadir>/db (and refuses OP
//     Mainnet without one, as op-reth does), answers eth_chainId, web3_clientVersion,
//     net_version, eth_blockNumber (the clock's chain: block N at 1700000000 + 2 N)
//     and net_peerCount on --http.addr:--http.port, serves the engine API (eth_chainId
//     too) on --authrpc.addr:--authrpc.port accepting only HS256 JWTs signed with the
//     secret in --authrpc.jwtsecret with an iat within 60 s (a refused token gets
//     reth's 401 texts, see jwtRefusal), listens on --port (TCP) and
//     --discovery.v5.port (UDP),
//     --ws.port and --metrics, and records its argv, user, data dir and engine calls,
//     served back as the JSON-RPC method standin_record (argv: all of it, `node` first).
// Standard library only (Go 1.19).
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

var version = "v0.0.0" // set at build time: the pin the stand-in stands for

// The L2 chain the stand-ins share starts here (2 s blocks).
const chainGenesis = 1700000000

func head() uint64 {
	return uint64(time.Now().Unix()-chainGenesis) / 2
}

// op-reth's chain names -> chain IDs (chain_spec_macro.rs and chain_specs.rs,
// ethereum-optimism/optimism@399b85e3 / @12529c14; IDs from the superchain registry).
var chains = map[string]uint64{
	"optimism": 10, "op": 10, "optimism-sepolia": 11155420, "optimism_sepolia": 11155420,
	"op-sepolia": 11155420, "unichain": 130, "unichain-sepolia": 1301, "ink": 57073,
	"ink-sepolia": 763373, "soneium": 1868, "soneium-minato-sepolia": 1946, "dev": 1337,
}

// `node` flags: name -> takes a value. A few of cli.snap's; anything else is refused.
var nodeFlags = map[string]bool{
	"chain": true, "datadir": true, "datadir.static-files": true, "datadir.rocksdb": true,
	"authrpc.addr": true, "authrpc.port": true, "authrpc.jwtsecret": true,
	"http": false, "http.addr": true, "http.port": true, "http.api": true, "http.corsdomain": true,
	"ws": false, "ws.addr": true, "ws.port": true, "ws.api": true, "ws.origins": true,
	"metrics": true, "port": true, "addr": true, "discovery.port": true, "discovery.addr": true,
	"discovery.v5.port": true, "nat": true, "bootnodes": true, "trusted-peers": true,
	"disable-discovery": false, "full": false, "storage.v2": true,
	"rollup.sequencer": true, "rollup.sequencer-http": true, "rollup.sequencer-ws": true,
	"rollup.disable-tx-pool-gossip": false, "rollup.discovery.v4": false,
	"rollup.historicalrpc": true, "log.file.max-files": true, "log.file.directory": true,
	"log.stdout.format": true, "ipcdisable": false,
}

type record struct {
	Argv         []string          `json:"argv"`
	Flags        map[string]string `json:"flags"`
	Env          map[string]string `json:"env"`
	UID          int               `json:"uid"`
	GID          int               `json:"gid"`
	Chain        string            `json:"chain"`
	ChainID      uint64            `json:"chain_id"`
	DataDir      string            `json:"datadir"`
	DataDirFound []string          `json:"datadir_found"` // at start, before opening
	DbFound      []string          `json:"db_found"`
	JwtSha256    string            `json:"jwt_sha256"`
	EngineCalls  int               `json:"engine_calls"`
	EngineDenied int               `json:"engine_denied"`
	Started      string            `json:"started"`
}

var (
	mu  sync.Mutex
	rec record
)

func fail(code int, format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(code)
}

func invalidChain(s string) {
	fail(2, "error: invalid value '%s' for '--chain <CHAIN_OR_PATH>': "+
		"No such file or directory (os error 2)", s)
}

// chainOf: the chain ID of a known name, or of a genesis file's config.chainId.
func chainOf(s string) (uint64, bool) {
	if id, ok := chains[s]; ok {
		return id, true
	}
	raw, err := os.ReadFile(s)
	if err != nil {
		return 0, false
	}
	var g struct {
		Config struct {
			ChainID uint64 `json:"chainId"`
		} `json:"config"`
	}
	if json.Unmarshal(raw, &g) != nil {
		return 0, false
	}
	return g.Config.ChainID, true
}

func listing(dir string) []string {
	names := []string{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func rpc(handle func(method string, r *http.Request) (interface{}, int)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodPost || json.Unmarshal(body, &req) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		result, status := handle(req.Method, r)
		if status != http.StatusOK {
			if text, ok := result.(string); ok { // reth's auth layer: the reason, plain text
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(status)
				w.Write([]byte(text))
				return
			}
			w.WriteHeader(status)
			return
		}
		if result == nil {
			json.NewEncoder(w).Encode(map[string]interface{}{"jsonrpc": "2.0", "id": req.ID,
				"error": map[string]interface{}{"code": -32601, "message": "Method not found"}})
			return
		}
		json.NewEncoder(w).Encode(map[string]interface{}{"jsonrpc": "2.0", "id": req.ID, "result": result})
	}
}

// jwtRefusal: "" for a valid engine-API token, else what op-reth answers with its 401,
// as plain text: alloy-rs/alloy crates/rpc-types-engine/src/jwt.rs @014ea2bf JwtError's
// texts, which reth's auth layer sends as the body (paradigmxyz/reth
// crates/rpc/rpc-layer/src/auth_layer.rs @107ea054, its tests).
func jwtRefusal(header string, secret []byte) string {
	token := strings.TrimPrefix(header, "Bearer ")
	parts := strings.Split(token, ".")
	if header == "" || token == header {
		return "Authorization header is missing or invalid"
	}
	if len(parts) != 3 {
		return "JWT decoding error: InvalidToken"
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return "provided signature is invalid"
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Iat *int64 `json:"iat"`
	}
	if err != nil || json.Unmarshal(raw, &claims) != nil || claims.Iat == nil {
		return "JWT decoding error: Missing required claim: iat"
	}
	if skew := time.Now().Unix() - *claims.Iat; skew > 60 || skew < -60 {
		return "IAT (issued-at) claim is not within ±60 seconds from the current time"
	}
	return ""
}

func parseNode(args []string) map[string]string {
	flags := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			fail(2, "error: unexpected argument '%s' found", a)
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		takes, known := nodeFlags[name]
		if !known {
			fail(2, "error: unexpected argument '--%s' found", name)
		}
		switch {
		case !takes && hasValue:
			fail(2, "error: unexpected value '%s' for '--%s' found; no more were expected", value, name)
		case !takes:
			value = "true"
		case !hasValue:
			if i+1 >= len(args) {
				fail(2, "error: a value is required for '--%s' but none was supplied", name)
			}
			i++
			value = args[i]
		}
		flags[name] = value
	}
	return flags
}

func get(flags map[string]string, name, def string) string {
	if v, ok := flags[name]; ok {
		return v
	}
	return def
}

func listen(network, addr, banner string) {
	if network == "udp" {
		if _, err := net.ListenPacket("udp", addr); err != nil {
			fail(1, "op-reth (stand-in): udp %s: %v", addr, err)
		}
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fail(1, "op-reth (stand-in): tcp %s: %v", addr, err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(banner))
			c.Close()
		}
	}()
}

func node(args []string) {
	flags := parseNode(args)
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	rec = record{Argv: os.Args[1:], Flags: flags, Env: env, UID: os.Getuid(), GID: os.Getgid(),
		Started: time.Now().UTC().Format(time.RFC3339Nano)}

	rec.Chain = get(flags, "chain", "optimism")
	id, ok := chainOf(rec.Chain)
	if !ok {
		invalidChain(rec.Chain)
	}
	rec.ChainID = id
	home, _ := os.UserHomeDir()
	rec.DataDir = get(flags, "datadir", filepath.Join(home, ".local/share/reth", rec.Chain))
	rec.DataDirFound = listing(rec.DataDir)
	db := filepath.Join(rec.DataDir, "db")
	rec.DbFound = listing(db)
	if _, err := os.Stat(db); err != nil && id == 10 {
		fail(1, "Error: Op-mainnet has been launched without importing the pre-Bedrock state.")
	}
	for _, dir := range []string{db, filepath.Join(rec.DataDir, "static_files")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fail(1, "Error: cannot open the database at %s: %v", rec.DataDir, err)
		}
	}
	if f, err := os.OpenFile(filepath.Join(db, "STANDIN-OPENED"),
		os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
		fail(1, "Error: cannot write the database at %s: %v", db, err)
	} else {
		fmt.Fprintln(f, rec.Started)
		f.Close()
	}
	toml := filepath.Join(rec.DataDir, "reth.toml")
	if _, err := os.Stat(toml); err != nil {
		os.WriteFile(toml, []byte("# op-reth stand-in\n"), 0o644)
	}

	jwtFile := get(flags, "authrpc.jwtsecret", "")
	if jwtFile == "" {
		fail(1, "op-reth (stand-in): no --authrpc.jwtsecret (the real one would write "+
			"its own secret into the data dir, which op-node cannot read)")
	}
	jwtText, err := os.ReadFile(jwtFile)
	if err != nil {
		fail(1, "Error: cannot read the JWT secret: %v", err)
	}
	secret, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(string(jwtText)), "0x"))
	if err != nil || len(secret) != 32 {
		fail(1, "Error: the JWT secret in %s is not 32 bytes of hex", jwtFile)
	}
	sum := sha256.Sum256(jwtText)
	rec.JwtSha256 = hex.EncodeToString(sum[:])

	p2p := get(flags, "port", "30303")
	listen("tcp", net.JoinHostPort(get(flags, "addr", "0.0.0.0"), p2p), "op-reth-stand-in p2p "+p2p+"\n")
	listen("udp", net.JoinHostPort(get(flags, "discovery.addr", "0.0.0.0"),
		get(flags, "discovery.v5.port", "9200")), "")
	if flags["rollup.discovery.v4"] == "true" {
		listen("udp", net.JoinHostPort(get(flags, "discovery.addr", "0.0.0.0"),
			get(flags, "discovery.port", "30303")), "")
	}
	if flags["ws"] == "true" {
		listen("tcp", net.JoinHostPort(get(flags, "ws.addr", "127.0.0.1"), get(flags, "ws.port", "8546")), "")
	}
	if m := get(flags, "metrics", ""); m != "" {
		listen("tcp", m, "")
	}

	client := fmt.Sprintf("reth/%s-rehearsal/x86_64-unknown-linux-gnu", version)
	rpcAddr := net.JoinHostPort(get(flags, "http.addr", "127.0.0.1"), get(flags, "http.port", "8545"))
	engineAddr := net.JoinHostPort(get(flags, "authrpc.addr", "127.0.0.1"), get(flags, "authrpc.port", "8551"))
	if flags["http"] == "true" {
		go func() {
			err := http.ListenAndServe(rpcAddr, rpc(func(m string, _ *http.Request) (interface{}, int) {
				mu.Lock()
				defer mu.Unlock()
				switch m {
				case "eth_chainId":
					return fmt.Sprintf("0x%x", rec.ChainID), http.StatusOK
				case "net_version":
					return fmt.Sprint(rec.ChainID), http.StatusOK
				case "web3_clientVersion":
					return client, http.StatusOK
				case "eth_blockNumber":
					return fmt.Sprintf("0x%x", head()), http.StatusOK
				case "net_peerCount":
					return "0x5", http.StatusOK
				case "standin_record":
					return rec, http.StatusOK
				}
				return nil, http.StatusOK
			}))
			fail(1, "op-reth (stand-in): json-rpc on %s: %v", rpcAddr, err)
		}()
	}
	go func() {
		err := http.ListenAndServe(engineAddr, rpc(func(m string, r *http.Request) (interface{}, int) {
			mu.Lock()
			defer mu.Unlock()
			if why := jwtRefusal(r.Header.Get("Authorization"), secret); why != "" {
				rec.EngineDenied++
				return why, http.StatusUnauthorized
			}
			rec.EngineCalls++
			switch m {
			case "engine_exchangeCapabilities":
				return []string{"engine_forkchoiceUpdatedV3"}, http.StatusOK
			case "eth_chainId":
				return fmt.Sprintf("0x%x", rec.ChainID), http.StatusOK
			}
			return nil, http.StatusOK
		}))
		fail(1, "op-reth (stand-in): engine api on %s: %v", engineAddr, err)
	}()

	fmt.Printf("op-reth (stand-in): chain %s (%d); datadir %s (%d entries found); "+
		"json-rpc %s, engine %s, p2p %s\n", rec.Chain, rec.ChainID, rec.DataDir,
		len(rec.DataDirFound), rpcAddr, engineAddr, p2p)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	fmt.Println("op-reth (stand-in): stopping")
}

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		fail(2, "Usage: op-reth <COMMAND>")
	}
	switch args[0] {
	case "--version", "-V":
		fmt.Printf("op-reth Version: %s\nCommit SHA: %s\nBuild Timestamp: 1970-01-01T00:00:00Z\n"+
			"Build Features: jemalloc\nBuild Profile: maxperf\n",
			strings.TrimPrefix(version, "v"), strings.Repeat("0", 40))
	case "dump-genesis":
		if len(args) != 3 || args[1] != "--chain" {
			fail(2, "Usage: op-reth dump-genesis --chain <CHAIN_OR_PATH>")
		}
		id, ok := chainOf(args[2])
		if !ok {
			invalidChain(args[2])
		}
		fmt.Printf("{\"config\":{\"chainId\":%d}}\n", id)
	case "node":
		node(args[1:])
	default:
		fail(2, "error: unrecognized subcommand '%s' (the stand-in has --version, "+
			"dump-genesis and node)", args[0])
	}
}
