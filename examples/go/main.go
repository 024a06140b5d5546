// Command client calls llm-orchestrator from Go through the generated package
// github.com/llm-orchestrator/llm-orchestrator/clients/go/orchestrator/v1.
//
// Usage:
//
//	client [flags] ADDRESS chat   PROMPT
//	client [flags] ADDRESS stream PROMPT
//	client [flags] ADDRESS retry  PROMPT
//
// chat makes one Chat call. stream reads a StreamChat to its end (io.EOF) under the call's
// deadline and fails when no completed event came. retry makes Chat calls until one succeeds
// or -attempts run out, waiting between them what the server asked for: the RetryInfo detail,
// else the grpc-retry-pushback-ms trailer, else a jittered backoff. A negative pushback (no wait
// cures the refusal, or no retry mends the failure) ends the retries at once.
//
// TLS: -ca-file trusts that CA (else -tls trusts the system's roots); -cert-file and -key-file
// present a client certificate (mTLS). -api-key (or LLMO_API_KEY) is sent as
// "authorization: Bearer KEY" on every call.
//
// Exit status: 0 on success, 1 when the call failed (the gRPC code, message and decoded
// google.rpc details on stderr), 2 for a usage error.
//
// Builds offline with Debian's Go packages in GOPATH mode (see docs/clients/go.md):
//
//	apt-get install -y golang-go golang-google-grpc-dev golang-goprotobuf-dev
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golang/protobuf/ptypes"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	orchestratorv1 "github.com/llm-orchestrator/llm-orchestrator/clients/go/orchestrator/v1"
)

const requestIDKey = "x-request-id"

type options struct {
	model     string
	timeout   time.Duration
	requestID string
	attempts  int
	apiKey    string
}

// tlsFlags are the TLS settings; all empty means plaintext.
type tlsFlags struct {
	enabled  bool
	caFile   string
	certFile string
	keyFile  string
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(argv []string) int {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	var opts options
	fs.StringVar(&opts.model, "model", "", "model id or alias (default: the server's DEFAULT_MODEL)")
	fs.DurationVar(&opts.timeout, "timeout", 30*time.Second, "deadline of each call")
	fs.StringVar(&opts.requestID, "request-id", "", "sent as x-request-id metadata")
	fs.IntVar(&opts.attempts, "attempts", 3, "retry: most Chat calls in all")
	fs.StringVar(&opts.apiKey, "api-key", os.Getenv("LLMO_API_KEY"), "API key, sent as authorization: Bearer (default $LLMO_API_KEY)")
	var tf tlsFlags
	fs.BoolVar(&tf.enabled, "tls", false, "TLS with the system's root certificates")
	fs.StringVar(&tf.caFile, "ca-file", "", "TLS: trust this PEM CA certificate (implies -tls)")
	fs.StringVar(&tf.certFile, "cert-file", "", "mTLS: PEM client certificate (with -key-file; implies -tls)")
	fs.StringVar(&tf.keyFile, "key-file", "", "mTLS: PEM client key")
	if err := fs.Parse(argv); err != nil {
		return 2
	}
	if opts.timeout <= 0 {
		// A deadline already past would fail the call at once as DEADLINE_EXCEEDED.
		fmt.Fprintf(os.Stderr, "-timeout: a positive duration expected, got %s\n", opts.timeout)
		return 2
	}
	if fs.NArg() != 3 {
		fmt.Fprintln(os.Stderr, "usage: client [flags] ADDRESS chat|stream|retry PROMPT")
		return 2
	}
	address, command, prompt := fs.Arg(0), fs.Arg(1), fs.Arg(2)
	security, err := transport(tf)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}

	conn, err := grpc.Dial(address,
		security,
		// Pings only while calls are open, no more often than every 30 s: long streams survive
		// idle proxies, and a server or proxy that polices pings (too_many_pings) is not provoked.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
	)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dial %s: %v\n", address, err)
		return 1
	}
	defer conn.Close()
	client := orchestratorv1.NewChatServiceClient(conn)

	switch command {
	case "chat":
		err = chat(client, opts, prompt)
	case "stream":
		err = stream(client, opts, prompt)
	case "retry":
		err = retry(client, opts, prompt)
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q: chat, stream or retry\n", command)
		return 2
	}
	if err != nil {
		printError(err)
		return 1
	}
	return 0
}

// transport is plaintext, as the gateway listens by default, or TLS when any TLS flag is set
// (the gateway's TLS_CERT_FILE; TLS_CLIENT_CA_FILE asks for a client certificate too).
func transport(tf tlsFlags) (grpc.DialOption, error) {
	if !tf.enabled && tf.caFile == "" && tf.certFile == "" && tf.keyFile == "" {
		return grpc.WithInsecure(), nil
	}
	config := &tls.Config{MinVersion: tls.VersionTLS12}
	if tf.caFile != "" {
		pem, err := ioutil.ReadFile(tf.caFile)
		if err != nil {
			return nil, fmt.Errorf("-ca-file: %v", err)
		}
		config.RootCAs = x509.NewCertPool()
		if !config.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca-file: no PEM certificate in %s", tf.caFile)
		}
	}
	if (tf.certFile == "") != (tf.keyFile == "") {
		return nil, errors.New("-cert-file and -key-file go together")
	}
	if tf.certFile != "" {
		pair, err := tls.LoadX509KeyPair(tf.certFile, tf.keyFile)
		if err != nil {
			return nil, fmt.Errorf("-cert-file/-key-file: %v", err)
		}
		config.Certificates = []tls.Certificate{pair}
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(config)), nil
}

// callContext carries the deadline, the request id and the API key of one call.
func callContext(opts options) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), opts.timeout)
	if opts.requestID != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, requestIDKey, opts.requestID)
	}
	if opts.apiKey != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+opts.apiKey)
	}
	return ctx, cancel
}

func chat(client orchestratorv1.ChatServiceClient, opts options, prompt string) error {
	ctx, cancel := callContext(opts)
	defer cancel()
	res, err := client.Chat(ctx, &orchestratorv1.ChatRequest{Model: opts.model, Prompt: prompt})
	if err != nil {
		return err
	}
	printChat(res)
	return nil
}

func printChat(res *orchestratorv1.ChatResponse) {
	fmt.Printf("model: %s (%s)\n", res.GetModel(), res.GetProvider())
	fmt.Printf("content: %s\n", res.GetContent())
	printSummary(res.GetUsage(), res.GetCostUsd(), res.GetLatencyMs(), res.GetFinishReason())
	printAttempts(res.GetAttempts())
	fmt.Printf("request_id: %s\n", res.GetRequestId())
}

func stream(client orchestratorv1.ChatServiceClient, opts options, prompt string) error {
	// The deadline covers the whole stream; cancel() on return also ends the call upstream.
	ctx, cancel := callContext(opts)
	defer cancel()
	events, err := client.StreamChat(ctx, &orchestratorv1.StreamChatRequest{Model: opts.model, Prompt: prompt})
	if err != nil {
		return err
	}
	completed := false
	midLine := false
	for {
		event, err := events.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			// The tokens so far end their line, so the error (on stderr) does not continue it.
			if midLine {
				fmt.Println()
			}
			// A cut stream, an expired deadline or a cancel: the status says which.
			return err
		}
		switch e := event.GetEvent().(type) {
		case *orchestratorv1.StreamChatResponse_Started:
			fmt.Printf("started: model=%s provider=%s request_id=%s\n", e.Started.GetModel(), e.Started.GetProvider(), e.Started.GetRequestId())
		case *orchestratorv1.StreamChatResponse_Delta:
			if content := e.Delta.GetContent(); content != "" {
				fmt.Print(content)
				midLine = true
			}
		case *orchestratorv1.StreamChatResponse_Restarted:
			midLine = false
			fmt.Printf("\nrestarted: %s failed (%s); %s starts over\n", e.Restarted.GetFailedModel(), e.Restarted.GetReason(), e.Restarted.GetNextModel())
		case *orchestratorv1.StreamChatResponse_Completed:
			c := e.Completed
			completed = true
			fmt.Println()
			fmt.Printf("completed: model=%s provider=%s time_to_first_token_ms=%.1f\n", c.GetModel(), c.GetProvider(), c.GetTimeToFirstTokenMs())
			printSummary(c.GetUsage(), c.GetCostUsd(), c.GetLatencyMs(), c.GetFinishReason())
			printAttempts(c.GetAttempts())
		}
	}
	if !completed {
		// A stream without `completed` is never a full answer.
		return errors.New("stream ended without a completed event")
	}
	return nil
}

// retryable: the codes whose RetryInfo means "the same call may succeed later".
func retryable(code codes.Code) bool {
	return code == codes.Unavailable || code == codes.ResourceExhausted
}

func retry(client orchestratorv1.ChatServiceClient, opts options, prompt string) error {
	backoff := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		ctx, cancel := callContext(opts)
		var trailer metadata.MD
		res, err := client.Chat(ctx, &orchestratorv1.ChatRequest{Model: opts.model, Prompt: prompt}, grpc.Trailer(&trailer))
		cancel()
		if err == nil {
			fmt.Printf("attempts: %d\n", attempt)
			printChat(res)
			return nil
		}
		st := status.Convert(err)
		if !retryable(st.Code()) || attempt >= opts.attempts {
			return err
		}
		wait, source := retryDelay(st, trailer)
		if source == noRetry {
			return err
		}
		if wait < 0 {
			// No pushback: exponential backoff with full jitter.
			wait, source = time.Duration(rand.Int63n(int64(backoff))), "backoff"
			backoff *= 2
		}
		fmt.Fprintf(os.Stderr, "retry: %s after attempt %d; waiting %s (%s)\n", strings.ToUpper(codeName(st.Code())), attempt, wait.Round(time.Millisecond), source)
		time.Sleep(wait)
	}
}

// noRetry is retryDelay's source when the server said that no wait cures the refusal.
const noRetry = "no retry"

// retryDelay is what the server asked the caller to wait: RetryInfo first, then the gRFC A6
// pushback trailer; negative when it asked nothing. A negative pushback means "do not retry"
// (gRFC A6), not "no pushback", and is read first: retrying a request that is over a limit by
// itself never succeeds, and a wait longer than a call should sit out (a spent budget: RetryInfo
// says until midnight) is the caller's to schedule, not a sleep inside this one.
func retryDelay(st *status.Status, trailer metadata.MD) (time.Duration, string) {
	if values := trailer.Get("grpc-retry-pushback-ms"); len(values) > 0 {
		if ms, err := strconv.Atoi(values[0]); err == nil && ms < 0 {
			return -1, noRetry
		}
	}
	for _, detail := range st.Details() {
		if info, ok := detail.(*errdetails.RetryInfo); ok {
			if d, err := ptypes.Duration(info.GetRetryDelay()); err == nil {
				return d, "RetryInfo"
			}
		}
	}
	if values := trailer.Get("grpc-retry-pushback-ms"); len(values) > 0 {
		if ms, err := strconv.Atoi(values[0]); err == nil {
			return time.Duration(ms) * time.Millisecond, "grpc-retry-pushback-ms"
		}
	}
	return -1, ""
}

func printSummary(usage *orchestratorv1.Usage, costUSD, latencyMs float64, finish orchestratorv1.FinishReason) {
	fmt.Printf("usage: prompt=%d completion=%d total=%d\n", usage.GetPromptTokens(), usage.GetCompletionTokens(), usage.GetTotalTokens())
	fmt.Printf("cost_usd: %.8f\n", costUSD)
	fmt.Printf("latency_ms: %.1f\n", latencyMs)
	fmt.Printf("finish_reason: %s\n", finish)
}

func printAttempts(attempts []*orchestratorv1.Attempt) {
	for _, a := range attempts {
		outcome := strings.TrimPrefix(a.GetOutcome().String(), "ATTEMPT_OUTCOME_")
		reason := ""
		if a.GetReason() != "" && a.GetReason() != outcome {
			reason = " " + a.GetReason()
		}
		fmt.Printf("attempt: %s %s%s %.1fms\n", a.GetModel(), outcome, reason, a.GetLatencyMs())
	}
}

// printError writes the code and message, then every google.rpc detail the status carries
// (grpc-go decodes grpc-status-details-bin into st.Details()).
func printError(err error) {
	st, ok := status.FromError(err)
	if !ok {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		return
	}
	fmt.Fprintf(os.Stderr, "error: %s: %s\n", strings.ToUpper(codeName(st.Code())), st.Message())
	for _, detail := range st.Details() {
		switch d := detail.(type) {
		case *errdetails.ErrorInfo:
			fmt.Fprintf(os.Stderr, "reason: %s (domain %s)\n", d.GetReason(), d.GetDomain())
			keys := make([]string, 0, len(d.GetMetadata()))
			for k := range d.GetMetadata() {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(os.Stderr, "  %s: %s\n", k, d.GetMetadata()[k])
			}
		case *errdetails.RetryInfo:
			if delay, err := ptypes.Duration(d.GetRetryDelay()); err == nil {
				fmt.Fprintf(os.Stderr, "retry after: %.3fs\n", delay.Seconds())
			}
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				fmt.Fprintf(os.Stderr, "field %s: %s\n", v.GetField(), v.GetDescription())
			}
		case *errdetails.QuotaFailure:
			for _, v := range d.GetViolations() {
				fmt.Fprintf(os.Stderr, "quota %s: %s\n", v.GetSubject(), v.GetDescription())
			}
		}
	}
}

// codeName is the canonical upper-snake name (NOT_FOUND), as every other client prints it.
func codeName(c codes.Code) string {
	var b strings.Builder
	for i, r := range c.String() {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return b.String()
}
