// Package ssi holds the syntax half of server side includes as nginx 1.22
// understands them: a streaming parser that splits a response body into
// text and "<!--#command param="value" -->" commands, the evaluation of
// parameter values with their "$variables", the expression of the "if"
// command, the encodings of "echo" and the strftime formats of
// "config timefmt".
//
// The package does no I/O and keeps no global mutable state. The caller
// owns everything else: variables, subrequests, blocks, conditionals and
// writing the output. Names are compared by the caller exactly as the
// parser returns them; nginx matches command and parameter names
// case-sensitively.
package ssi

// Limits of the command syntax. A command name longer than MaxCommandLen
// bytes or a parameter name longer than MaxParamLen bytes makes the command
// an Error; the length of a parameter value is limited by the value length
// given to Parser.Reset (ssi_value_length). A command with more than
// MaxParams parameters is syntactically valid: nginx reports it only after
// it has looked the command up, so the parser hands such a command over
// with MaxParams+1 parameters and leaves the check to the caller.
const (
	MaxCommandLen = 32
	MaxParams     = 16
	MaxParamLen   = 32
)

// DefaultValueLen is the default of ssi_value_length, the longest parameter
// value the parser accepts.
const DefaultValueLen = 256

// Param is one name="value" pair of a command, with the value exactly as it
// was written between its quotes (backslashes included).
type Param struct{ Name, Value []byte }

// Kind tells what Parser.Next found.
type Kind uint8

const (
	// None means nothing complete was found: all the input given was
	// consumed, and what may still become a command is kept in the parser.
	None Kind = iota
	// Text means Item.Text holds body bytes to pass through unchanged.
	Text
	// Command means a whole command was read, up to and including its
	// "-->": Item.Name and Item.Params describe it.
	Command
	// Error means a malformed command was read up to and including the
	// "-->" that ends it. Item.Err holds the message nginx logs for it, and
	// Item.Name the command name as far as it was read; the caller writes
	// its error message in place of the command.
	Error
)

// String returns the name of the kind, for messages and tests.
func (k Kind) String() string {
	switch k {
	case None:
		return "None"
	case Text:
		return "Text"
	case Command:
		return "Command"
	case Error:
		return "Error"
	}
	return "Kind(?)"
}

// Item is what Parser.Next found. Its slices point into the input given to
// Next or into the parser's own buffers, and are valid only until the next
// call to Next, End or Reset.
type Item struct {
	Kind   Kind
	Text   []byte
	Name   []byte
	Params []Param
	Err    string
}
