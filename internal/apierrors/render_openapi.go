package apierrors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// The Error schema's values openAPI writes; nothing else of the document
// changes, byte for byte.
var (
	errorSchema     = []string{"components", "schemas", "Error"}
	descriptionPath = append(errorSchema[:3:3], "description")
	codeEnumPath    = append(errorSchema[:3:3], "properties", "code", "enum")
	nameEnumPath    = append(errorSchema[:3:3], "properties", "name", "enum")
)

// tableHeader starts the code table of the Error schema's description;
// the hand-written text before it is kept.
const tableHeader = "| code | name | HTTP status | when |\n|---|---|---|---|\n"

// openAPI renders the Error schema's code and name enums and the code
// table at the end of its description into the OpenAPI document.
func openAPI(doc []byte, codes []Code) ([]byte, error) {
	var desc string
	if err := lookup(doc, descriptionPath, &desc); err != nil {
		return nil, err
	}
	i := strings.Index(desc, tableHeader)
	if i < 0 {
		return nil, fmt.Errorf("the Error schema's description has no table starting %q", tableHeader)
	}
	var table strings.Builder
	table.WriteString(tableHeader)
	for _, c := range codes {
		table.WriteString(openAPIRow(c))
	}
	desc = desc[:i] + strings.TrimSuffix(table.String(), "\n")
	numbers := make([]int, len(codes))
	names := make([]string, len(codes))
	for i, c := range codes {
		numbers[i], names[i] = c.Number, c.Name
	}
	for _, v := range []struct {
		path  []string
		value any
	}{{descriptionPath, desc}, {codeEnumPath, numbers}, {nameEnumPath, names}} {
		var err error
		if doc, err = replace(doc, v.path, v.value); err != nil {
			return nil, err
		}
	}
	return doc, nil
}

// lookup decodes the value at path of the JSON document doc into v.
func lookup(doc []byte, path []string, v any) error {
	start, end, err := locate(doc, path)
	if err != nil {
		return err
	}
	return json.Unmarshal(doc[start:end], v)
}

// replace puts value, encoded as the document is (two spaces a level, no
// HTML escapes), in place of the value at path of the JSON document doc.
func replace(doc []byte, path []string, value any) ([]byte, error) {
	start, end, err := locate(doc, path)
	if err != nil {
		return nil, err
	}
	lineStart := bytes.LastIndexByte(doc[:start], '\n') + 1
	indent := doc[lineStart:start]
	indent = indent[:len(indent)-len(bytes.TrimLeft(indent, " \t"))]
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent(string(indent), "  ")
	if err := enc.Encode(value); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", strings.Join(path, "."), err)
	}
	out := append([]byte{}, doc[:start]...)
	out = append(out, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...)
	return append(out, doc[end:]...), nil
}

// locate finds the value at path, a chain of object keys, in the JSON
// document doc: the offsets of its first byte and of the byte after it.
func locate(doc []byte, path []string) (start, end int, err error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	for depth := range path {
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return 0, 0, fmt.Errorf("%s is not an object (%v)", strings.Join(path[:depth], "."), err)
		}
		for {
			tok, err := dec.Token()
			if err != nil {
				return 0, 0, fmt.Errorf("reading %s: %w", strings.Join(path[:depth], "."), err)
			}
			if tok == json.Delim('}') {
				return 0, 0, fmt.Errorf("the document has no %s", strings.Join(path[:depth+1], "."))
			}
			if tok == path[depth] {
				break
			}
			if err := skip(dec); err != nil {
				return 0, 0, err
			}
		}
	}
	start = int(dec.InputOffset())
	for start < len(doc) && strings.ContainsRune(" \t\r\n:", rune(doc[start])) {
		start++
	}
	if err := skip(dec); err != nil {
		return 0, 0, err
	}
	return start, int(dec.InputOffset()), nil
}

// skip reads the next value of dec, however deep.
func skip(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("reading the OpenAPI document: %w", err)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
		if depth < 0 {
			return errors.New("reading the OpenAPI document: unbalanced")
		}
	}
}
