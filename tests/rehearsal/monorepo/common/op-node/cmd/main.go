// op-node of the rehearsal's fixture monorepo: the real op-node's command line shape
// (flags and OP_NODE_* variables), version string and optimism_version RPC, and no
// rollup logic; optimism_syncStatus and optimism_rollupConfig describe a chain that
// moves with the clock, as `inv status` reads them. It records what it was started
// with (JSON-RPC standin_record), calls
// the execution client's engine API with the shared JWT, and keeps its p2p key in
// the data dir. Standard library only.
package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
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
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ethereum-optimism/optimism/op-node/version"
)

var (
	GitCommit = ""
	GitDate   = ""
)

// bundleCheck is set where op-node links op-core/superchain (v1.19.1 on).
var bundleCheck func() (string, error)

// The flags this stand-in knows, as OP_NODE_* variables; anything else named OP_NODE_*
// gets op-node's warning, and an unknown --flag is refused.
var known = []string{
	"network", "rollup.config", "l1", "l1.beacon", "l1.rpckind", "l1.trustrpc",
	"l2", "l2.jwt-secret", "l2.enginekind", "syncmode", "rpc.addr", "rpc.port",
	"rpc.enable-admin", "metrics.enabled", "metrics.addr", "metrics.port",
	"p2p.listen.ip", "p2p.listen.tcp", "p2p.listen.udp", "p2p.priv.path",
	"p2p.peerstore.path", "p2p.discovery.path", "p2p.advertise.ip", "p2p.bootnodes",
	"p2p.disable", "log.level", "log.format", "verifier.l1-confs",
}

// The L2 chain the stand-ins share: block N at chainGenesis + 2 N (2 s blocks).
const chainGenesis = 1700000000

// L2 and L1 chain ids of the networks the rehearsal runs.
var chainIDs = map[string]uint64{"op-mainnet": 10, "op-sepolia": 11155420}
var l1ChainIDs = map[string]uint64{"op-mainnet": 1, "op-sepolia": 11155111}

func blockRef(number, stamp uint64) map[string]interface{} {
	return map[string]interface{}{"hash": fmt.Sprintf("0x%064x", number), "number": number,
		"parentHash": fmt.Sprintf("0x%064x", number-1), "timestamp": stamp}
}

// syncStatus: optimism_syncStatus in the shape op-node sends since optimism PR #22555
// (no cross_unsafe_l2), numbers as JSON integers (op-service/eth/id.go: uint64). The
// unsafe head is the clock's block, safe one minute and finalized 15 minutes behind.
func syncStatus() map[string]interface{} {
	unsafe := uint64(time.Now().Unix()-chainGenesis) / 2
	l2 := func(n uint64) map[string]interface{} {
		ref := blockRef(n, chainGenesis+2*n)
		ref["l1origin"] = map[string]interface{}{"hash": fmt.Sprintf("0x%064x", n/6), "number": n / 6}
		ref["sequenceNumber"] = n % 6
		return ref
	}
	l1 := func(n uint64) map[string]interface{} { return blockRef(n, chainGenesis+12*n) }
	top := unsafe / 6
	return map[string]interface{}{
		"current_l1": l1(top - 2), "current_l1_finalized": l1(top - 64), "head_l1": l1(top),
		"safe_l1": l1(top - 32), "finalized_l1": l1(top - 64),
		"unsafe_l2": l2(unsafe), "safe_l2": l2(unsafe - 30), "finalized_l2": l2(unsafe - 450),
		"pending_safe_l2": l2(unsafe - 30), "queued_unsafe_l2": l2(0),
	}
}

// flag name -> its OP_NODE_* variable (upstream's names where they differ)
var envName = map[string]string{
	"l1": "L1_ETH_RPC", "l2": "L2_ENGINE_RPC", "l2.jwt-secret": "L2_ENGINE_AUTH",
	"l2.enginekind": "L2_ENGINE_KIND", "l1.rpckind": "L1_RPC_KIND",
	"l1.trustrpc": "L1_TRUST_RPC", "p2p.listen.tcp": "P2P_LISTEN_TCP_PORT",
	"p2p.listen.udp": "P2P_LISTEN_UDP_PORT", "rollup.config": "ROLLUP_CONFIG",
}

func envOf(flag string) string {
	if n, ok := envName[flag]; ok {
		return "OP_NODE_" + n
	}
	return "OP_NODE_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(flag))
}

type record struct {
	Version    string            `json:"version"`
	Commit     string            `json:"commit"`
	Argv       []string          `json:"argv"`
	Env        map[string]string `json:"env"`
	Settings   map[string]string `json:"settings"`
	UnknownEnv []string          `json:"unknown_env"`
	UID        int               `json:"uid"`
	GID        int               `json:"gid"`
	JwtSha256  string            `json:"jwt_sha256"`
	EngineOK   bool              `json:"engine_ok"`
	EngineErr  string            `json:"engine_error"`
	P2PKeyNew  bool              `json:"p2p_key_new"`
	Bundle     string            `json:"bundle"`
	Started    string            `json:"started"`
}

var (
	mu  sync.Mutex
	rec record
)

func versionString() string {
	v := version.Version
	if GitCommit != "" {
		c := GitCommit
		if len(c) > 8 {
			c = c[:8]
		}
		v += "-" + c
	}
	if GitDate != "" {
		v += "-" + GitDate
	}
	if version.Meta != "" {
		v += "-" + version.Meta
	}
	return v
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "op-node: "+format+"\n", args...)
	os.Exit(1)
}

func jwtToken(secret []byte) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body := enc.EncodeToString([]byte(fmt.Sprintf(`{"iat":%d}`, time.Now().Unix())))
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(head + "." + body))
	return head + "." + body + "." + enc.EncodeToString(mac.Sum(nil))
}

func callEngine(url string, secret []byte) error {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewBufferString(
		`{"jsonrpc":"2.0","id":1,"method":"engine_exchangeCapabilities","params":[[]]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+jwtToken(secret))
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("engine API answered %s", resp.Status)
	}
	return nil
}

func main() {
	args := os.Args[1:]
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-v") {
		if bundleCheck != nil {
			if _, err := bundleCheck(); err != nil {
				fail("embedded superchain bundle: %v", err)
			}
		}
		fmt.Printf("op-node version %s\n", versionString())
		return
	}

	settings := map[string]string{}
	isKnown := map[string]bool{}
	for _, f := range known {
		isKnown[envOf(f)] = true
		if v, ok := os.LookupEnv(envOf(f)); ok {
			settings[f] = v
		}
	}
	for i := 0; i < len(args); i++ {
		name := strings.TrimLeft(args[i], "-")
		value := "true"
		if n, v, ok := strings.Cut(name, "="); ok {
			name, value = n, v
		} else if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			value = args[i+1]
			i++
		}
		if !isKnown[envOf(name)] {
			fail("flag provided but not defined: -%s", name)
		}
		settings[name] = value
	}
	env := map[string]string{}
	unknown := []string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
		if strings.HasPrefix(k, "OP_NODE_") && !isKnown[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		fmt.Fprintf(os.Stderr, "WARN Unknown OP_NODE_* env var(s) %s\n", strings.Join(unknown, ", "))
	}
	rec = record{Version: versionString(), Commit: GitCommit, Argv: args, Env: env,
		Settings: settings, UnknownEnv: unknown, UID: os.Getuid(), GID: os.Getgid(),
		Started: time.Now().UTC().Format(time.RFC3339Nano)}
	if bundleCheck != nil {
		chains, err := bundleCheck()
		if err != nil {
			fail("embedded superchain bundle: %v", err)
		}
		rec.Bundle = chains
	}
	if settings["network"] == "" && settings["rollup.config"] == "" {
		fail("one of --network or --rollup.config is required")
	}

	jwtText, err := os.ReadFile(settings["l2.jwt-secret"])
	if err != nil {
		fail("cannot read the engine-API secret: %v", err)
	}
	secret, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(string(jwtText)), "0x"))
	if err != nil || len(secret) != 32 {
		fail("the engine-API secret is not 32 bytes of hex")
	}
	sum := sha256.Sum256(jwtText)
	rec.JwtSha256 = hex.EncodeToString(sum[:])

	if path := settings["p2p.priv.path"]; path != "" {
		if _, err := os.Stat(path); os.IsNotExist(err) {
			key := make([]byte, 32)
			rand.Read(key)
			if err := os.WriteFile(path, []byte(hex.EncodeToString(key)), 0o600); err != nil {
				fail("cannot write the p2p key: %v", err)
			}
			rec.P2PKeyNew = true
		}
	}
	tcp, udp := settings["p2p.listen.tcp"], settings["p2p.listen.udp"]
	if tcp == "" {
		tcp = "9222"
	}
	if udp == "" {
		udp = tcp
	}
	if ln, err := net.Listen("tcp", ":"+tcp); err != nil {
		fail("p2p tcp %s: %v", tcp, err)
	} else {
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Write([]byte("op-node-stand-in p2p " + tcp + "\n"))
				c.Close()
			}
		}()
	}
	if _, err := net.ListenPacket("udp", ":"+udp); err != nil {
		fail("p2p udp %s: %v", udp, err)
	}

	go func() {
		for {
			err := callEngine(settings["l2"], secret)
			mu.Lock()
			rec.EngineOK = err == nil
			if err != nil {
				rec.EngineErr = err.Error()
			} else {
				rec.EngineErr = ""
			}
			mu.Unlock()
			if err == nil {
				return
			}
			time.Sleep(time.Second)
		}
	}()

	addr := settings["rpc.addr"]
	if addr == "" {
		addr = "127.0.0.1"
	}
	port := settings["rpc.port"]
	if port == "" {
		port = "9545"
	}
	go func() {
		err := http.ListenAndServe(net.JoinHostPort(addr, port), http.HandlerFunc(
			func(w http.ResponseWriter, r *http.Request) {
				var req struct {
					ID     json.RawMessage `json:"id"`
					Method string          `json:"method"`
				}
				body, _ := io.ReadAll(r.Body)
				if json.Unmarshal(body, &req) != nil {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				mu.Lock()
				defer mu.Unlock()
				var result interface{}
				switch req.Method {
				case "optimism_version":
					result = rec.Version
				case "optimism_syncStatus":
					result = syncStatus()
				case "optimism_rollupConfig":
					result = map[string]interface{}{"l2_chain_id": chainIDs[settings["network"]],
						"l1_chain_id": l1ChainIDs[settings["network"]], "block_time": 2}
				case "standin_record":
					result = rec
				default:
					json.NewEncoder(w).Encode(map[string]interface{}{"jsonrpc": "2.0", "id": req.ID,
						"error": map[string]interface{}{"code": -32601, "message": "method not found"}})
					return
				}
				json.NewEncoder(w).Encode(map[string]interface{}{"jsonrpc": "2.0", "id": req.ID, "result": result})
			}))
		fail("rpc: %v", err)
	}()
	fmt.Printf("op-node %s: network %s, rpc %s, p2p %s/%s\n", rec.Version, settings["network"],
		net.JoinHostPort(addr, port), tcp, udp)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
