package llm

import (
	"net/http"
	"net/url"
)

// splitQuery takes the query off a base URL ("https://proxy/v1?key=K"),
// which go-openai would otherwise glue in front of each endpoint's path,
// and returns the URL without it and the values to add to every request.
func splitQuery(base string) (string, url.Values) {
	u, err := url.Parse(base)
	if err != nil || u.RawQuery == "" {
		return base, nil
	}
	q := u.Query()
	u.RawQuery = ""
	return u.String(), q
}

// queryDoer adds a base URL's query values (an API key some proxies take
// as ?key=, an api-version) to every request it sends.
type queryDoer struct {
	next  HTTPDoer
	query url.Values
}

// Do implements HTTPDoer.
func (d queryDoer) Do(req *http.Request) (*http.Response, error) {
	q := req.URL.Query()
	for k, vs := range d.query {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	req.URL.RawQuery = q.Encode()
	return d.next.Do(req)
}
