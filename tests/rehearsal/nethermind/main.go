// A stand-in for Nethermind in the rehearsal: it is started exactly as the real
// client would be (by the production entry point, with the production flags), and:
//   - loads configs/<--config>.json relative to its own folder, failing as the real
//     client does when there is none, and opens its database at
//     <--data-dir>/<Init.BaseDbPath> (nethermind_db/<network> in the op-* configs);
//   - answers web3_clientVersion (the health check), eth_chainId, eth_blockNumber and
//     net_peerCount (what `inv status` asks) on JsonRpc.Host:JsonRpc.Port; the chain
//     moves with the clock (block N at CHAIN_GENESIS + 2 N);
//   - serves the engine API on JsonRpc.EngineHost:JsonRpc.EnginePort, accepting only
//     HS256 JWTs signed with the secret in JsonRpc.JwtSecretFile whose iat is within
//     60 s, and refusing others as Nethermind does: 401 with a JSON-RPC error -32600
//     "Authentication error" (src/Nethermind/Nethermind.Runner/JsonRpc/Startup.cs
//     @038cdbf6, PushErrorResponseAsync);
//   - listens on Network.P2PPort (TCP) and Network.DiscoveryPort (UDP);
//   - records its argv, environment, user, database state and engine calls, served
//     back as the JSON-RPC method standin_record.
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

const version = "Nethermind/v0.0.0-rehearsal-stand-in/linux-x64/dotnet0"

// CHAIN_GENESIS: the L2 chain the stand-ins share starts here (2 s blocks).
const chainGenesis = 1700000000

// Nethermind's 401 body for a refused engine-API token.
const unauthorized = `{"jsonrpc":"2.0","error":{"code":-32600,"message":"Authentication error"},"id":null}`

// L2 chain ids of the configs the stand-in ships.
var chainIDs = map[string]uint64{"op-mainnet": 10, "op-sepolia": 11155420}

type record struct {
	Argv        []string          `json:"argv"`
	Env         map[string]string `json:"env"`
	UID         int               `json:"uid"`
	GID         int               `json:"gid"`
	Config      string            `json:"config"`
	DataDir     string            `json:"data_dir"`
	DbPath      string            `json:"db_path"`
	DbFound     []string          `json:"db_found"`
	JwtSha256   string            `json:"jwt_sha256"`
	P2PPort     string            `json:"p2p_port"`
	DiscPort    string            `json:"discovery_port"`
	EngineCalls int               `json:"engine_calls"`
	EngineDenied int              `json:"engine_denied"`
	Started     string            `json:"started"`
}

var (
	mu  sync.Mutex
	rec record
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "nethermind (stand-in): "+format+"\n", args...)
	os.Exit(1)
}

// options: --Key=Value, --Key Value; keys are case-insensitive as in Nethermind.
func parse(args []string) map[string]string {
	opts := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			fail("unexpected argument %q", a)
		}
		key := strings.ToLower(strings.TrimLeft(a, "-"))
		if k, _, ok := strings.Cut(key, "="); ok {
			opts[k] = a[strings.Index(a, "=")+1:]
			continue
		}
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			opts[key] = args[i+1]
			i++
		} else {
			opts[key] = "true"
		}
	}
	return opts
}

func get(opts map[string]string, key, def string) string {
	if v, ok := opts[strings.ToLower(key)]; ok {
		return v
	}
	return def
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
			w.WriteHeader(status)
			if text, ok := result.(string); ok {
				w.Write([]byte(text))
			}
			return
		}
		if result == nil {
			json.NewEncoder(w).Encode(map[string]interface{}{"jsonrpc": "2.0", "id": req.ID,
				"error": map[string]interface{}{"code": -32601, "message": "method not found"}})
			return
		}
		json.NewEncoder(w).Encode(map[string]interface{}{"jsonrpc": "2.0", "id": req.ID, "result": result})
	}
}

func validJWT(header string, secret []byte) bool {
	token := strings.TrimPrefix(header, "Bearer ")
	parts := strings.Split(token, ".")
	if token == header || len(parts) != 3 {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Iat *int64 `json:"iat"`
	}
	if err != nil || json.Unmarshal(raw, &claims) != nil || claims.Iat == nil {
		return false
	}
	skew := time.Now().Unix() - *claims.Iat
	return skew <= 60 && skew >= -60
}

func head() uint64 {
	return uint64(time.Now().Unix()-chainGenesis) / 2
}

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "-v") {
		fmt.Println("Version: 0.0.0-rehearsal-stand-in")
		fmt.Println("Commit: 0000000000000000000000000000000000000000")
		return
	}
	exe, _ := os.Executable()
	base := filepath.Dir(exe)
	opts := parse(os.Args[1:])

	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	rec = record{Argv: os.Args[1:], Env: env, UID: os.Getuid(), GID: os.Getgid(),
		Started: time.Now().UTC().Format(time.RFC3339Nano)}

	rec.Config = get(opts, "config", "")
	if rec.Config == "" {
		fail("--config is required")
	}
	cfgPath := filepath.Join(base, "configs", rec.Config+".json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		fail("config %s not found (%v)", rec.Config, err)
	}
	var cfg struct {
		Init struct{ BaseDbPath string }
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		fail("config %s: %v", cfgPath, err)
	}
	rec.DataDir = get(opts, "data-dir", get(opts, "datadir", base))
	rec.DbPath = filepath.Join(rec.DataDir, get(opts, "Init.BaseDbPath", cfg.Init.BaseDbPath))
	entries, _ := os.ReadDir(rec.DbPath)
	rec.DbFound = []string{}
	for _, e := range entries {
		rec.DbFound = append(rec.DbFound, e.Name())
	}
	sort.Strings(rec.DbFound)
	if err := os.MkdirAll(rec.DbPath, 0o755); err != nil {
		fail("cannot open the database at %s: %v", rec.DbPath, err)
	}
	marker := filepath.Join(rec.DbPath, "STANDIN-OPENED")
	if f, err := os.OpenFile(marker, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
		fail("cannot write the database at %s: %v", rec.DbPath, err)
	} else {
		fmt.Fprintln(f, rec.Started)
		f.Close()
	}

	jwtFile := get(opts, "JsonRpc.JwtSecretFile", "")
	if jwtFile == "" {
		fail("--JsonRpc.JwtSecretFile is required")
	}
	jwtText, err := os.ReadFile(jwtFile)
	if err != nil {
		fail("cannot read the JWT secret: %v", err)
	}
	secret, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(string(jwtText)), "0x"))
	if err != nil || len(secret) != 32 {
		fail("the JWT secret in %s is not 32 bytes of hex", jwtFile)
	}
	sum := sha256.Sum256(jwtText)
	rec.JwtSha256 = hex.EncodeToString(sum[:])

	rec.P2PPort = get(opts, "Network.P2PPort", "30303")
	rec.DiscPort = get(opts, "Network.DiscoveryPort", "30303")
	if ln, err := net.Listen("tcp", ":"+rec.P2PPort); err != nil {
		fail("p2p port %s: %v", rec.P2PPort, err)
	} else {
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Write([]byte("nethermind-stand-in p2p " + rec.P2PPort + "\n"))
				c.Close()
			}
		}()
	}
	if _, err := net.ListenPacket("udp", ":"+rec.DiscPort); err != nil {
		fail("discovery port %s: %v", rec.DiscPort, err)
	}

	rpcAddr := net.JoinHostPort(get(opts, "JsonRpc.Host", "127.0.0.1"), get(opts, "JsonRpc.Port", "8545"))
	engineAddr := net.JoinHostPort(get(opts, "JsonRpc.EngineHost", "127.0.0.1"), get(opts, "JsonRpc.EnginePort", "8551"))
	go func() {
		err := http.ListenAndServe(rpcAddr, rpc(func(m string, _ *http.Request) (interface{}, int) {
			mu.Lock()
			defer mu.Unlock()
			switch m {
			case "web3_clientVersion":
				return version, http.StatusOK
			case "eth_chainId":
				return fmt.Sprintf("0x%x", chainIDs[rec.Config]), http.StatusOK
			case "eth_blockNumber":
				return fmt.Sprintf("0x%x", head()), http.StatusOK
			case "net_peerCount":
				return "0x5", http.StatusOK
			case "standin_record":
				return rec, http.StatusOK
			}
			return nil, http.StatusOK
		}))
		fail("json-rpc on %s: %v", rpcAddr, err)
	}()
	go func() {
		err := http.ListenAndServe(engineAddr, rpc(func(m string, r *http.Request) (interface{}, int) {
			mu.Lock()
			defer mu.Unlock()
			if !validJWT(r.Header.Get("Authorization"), secret) {
				rec.EngineDenied++
				return unauthorized, http.StatusUnauthorized
			}
			rec.EngineCalls++
			switch m {
			case "engine_exchangeCapabilities":
				return []string{"engine_forkchoiceUpdatedV3"}, http.StatusOK
			case "eth_chainId":
				return fmt.Sprintf("0x%x", chainIDs[rec.Config]), http.StatusOK
			}
			return nil, http.StatusOK
		}))
		fail("engine api on %s: %v", engineAddr, err)
	}()

	fmt.Printf("nethermind (stand-in): %s; database %s (%d entries found); json-rpc %s, engine %s, p2p %s/%s\n",
		rec.Config, rec.DbPath, len(rec.DbFound), rpcAddr, engineAddr, rec.P2PPort, rec.DiscPort)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	fmt.Println("nethermind (stand-in): stopping")
}
