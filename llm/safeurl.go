package llm

// SafeURL returns raw without its user info, query and fragment, for
// writing a server's address anywhere (job files, manifests, reports,
// logs): neither credentials in the URL nor a key passed as a query
// parameter survive it. An unparsable URL comes back as a placeholder.
func SafeURL(raw string) string {
	if raw == "" {
		return ""
	}
	return safeURL(raw)
}
