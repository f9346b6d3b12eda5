package ops

// ParseTryingEveryPhrasing is Parse without skipping the phrasings the
// first word rules out: what Parse must always agree with.
func (c *Catalog) ParseTryingEveryPhrasing(text string) (Command, error) { return c.parse(text, false) }
