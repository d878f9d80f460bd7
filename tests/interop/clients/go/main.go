// k9 interop client: aws-sdk-go-v2's SigV4 signer (Debian golang-github-aws-aws-sdk-go-v2-dev).
//
// Usage: k9-interop-go header|presign METHOD URL [BODY]
//
// Credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and (optional)
// AWS_SESSION_TOKEN; the server's certificate is trusted from the PEM file named by
// K9_INTEROP_CA. "header" signs like the k9 docs' Go snippet (and the k9 CLI it comes
// from): Content-Type: application/json and a Date header are set, then
// v4.NewSigner().SignHTTP(ctx, creds, req, hexSha256OfBody, "execute-api", region, now).
// "presign" uses PresignHTTP with X-Amz-Expires. Prints one JSON line:
// {"status": N, "headers": {lowercased: value}, "body": "..."}; what was sent goes to stderr.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	service = "execute-api"
	region  = "us-east-1"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "k9-interop-go: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 4 || len(os.Args) > 5 {
		fail("usage: k9-interop-go header|presign METHOD URL [BODY]")
	}
	mode, method, rawURL := os.Args[1], os.Args[2], os.Args[3]
	body := ""
	if len(os.Args) == 5 {
		body = os.Args[4]
	}
	creds := aws.Credentials{
		AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken:    os.Getenv("AWS_SESSION_TOKEN"),
		Source:          "EnvironmentVariables",
	}

	var reqBody io.Reader
	if body != "" {
		reqBody = bytes.NewBufferString(body)
	}
	request, err := http.NewRequest(method, rawURL, reqBody)
	if err != nil {
		fail("cannot build request: %v", err)
	}
	sum := sha256.Sum256([]byte(body))
	payloadHash := hex.EncodeToString(sum[:])
	now := time.Now()
	signer := v4.NewSigner()
	ctx := context.TODO()

	switch mode {
	case "header":
		// As in the k9 docs' Go example.
		request.Header.Set("Date", now.Format(time.RFC3339))
		request.Header.Set("Content-Type", "application/json")
		if err := signer.SignHTTP(ctx, creds, request, payloadHash, service, region, now); err != nil {
			fail("SignHTTP: %v", err)
		}
	case "presign":
		query := request.URL.Query()
		query.Set("X-Amz-Expires", "300")
		request.URL.RawQuery = query.Encode()
		signedURL, signedHeaders, err := signer.PresignHTTP(ctx, creds, request, payloadHash, service, region, now)
		if err != nil {
			fail("PresignHTTP: %v", err)
		}
		presigned, err := http.NewRequest(method, signedURL, reqBody)
		if err != nil {
			fail("cannot build presigned request: %v", err)
		}
		for name, values := range signedHeaders {
			if strings.EqualFold(name, "Host") {
				continue // net/http sends Host from the URL
			}
			presigned.Header[name] = values
		}
		request = presigned
	default:
		fail("unknown mode %q (header or presign)", mode)
	}

	fmt.Fprintf(os.Stderr, "> %s %s\n", request.Method, request.URL.String())
	for name, values := range request.Header {
		for _, value := range values {
			fmt.Fprintf(os.Stderr, "> %s: %s\n", name, value)
		}
	}

	pool := x509.NewCertPool()
	if caFile := os.Getenv("K9_INTEROP_CA"); caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			fail("cannot read K9_INTEROP_CA: %v", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			fail("no certificate in %s", caFile)
		}
	}
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	response, err := client.Do(request)
	if err != nil {
		fail("request failed: %v", err)
	}
	defer response.Body.Close()
	responseBody, err := io.ReadAll(response.Body)
	if err != nil {
		fail("cannot read response: %v", err)
	}
	headers := map[string]string{}
	for name, values := range response.Header {
		headers[strings.ToLower(name)] = strings.Join(values, ", ")
	}
	out, _ := json.Marshal(map[string]interface{}{
		"status":  response.StatusCode,
		"headers": headers,
		"body":    string(responseBody),
	})
	fmt.Println(string(out))
}
