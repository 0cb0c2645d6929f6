package ocr

import (
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/wache/wache/internal/scan/mrz"
)

// Classes are the MRZ characters the classifier tells apart, in order.
const Classes = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<"

// modelBytes is the classifier written by tools/ocrbtemplates.
//
//go:embed ocrb.model
var modelBytes []byte

// Model is a small softmax classifier over glyph features: linear, or
// with one hidden layer of ReLU units when Hidden > 0.
type Model struct {
	Classes string
	Hidden  int
	// W1 holds, per hidden unit, NumFeatures weights and a bias.
	W1 []float32
	// W holds, per class, one weight per input (hidden units, or features
	// for a linear model) and a bias.
	W []float32
}

const modelMagic = "WOCRB2\n"

// inputs is the width of the output layer's input.
func (m *Model) inputs() int {
	if m.Hidden > 0 {
		return m.Hidden
	}
	return NumFeatures
}

// MarshalBinary encodes the model: magic, class string length and
// classes, feature count, hidden count, then little-endian float32
// weights (W1, then W).
func (m *Model) MarshalBinary() ([]byte, error) {
	out := []byte(modelMagic)
	out = append(out, byte(len(m.Classes)))
	out = append(out, m.Classes...)
	out = binary.LittleEndian.AppendUint16(out, NumFeatures)
	out = binary.LittleEndian.AppendUint16(out, uint16(m.Hidden))
	for _, w := range m.W1 {
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(w))
	}
	for _, w := range m.W {
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(w))
	}
	return out, nil
}

// UnmarshalBinary decodes a model.
func (m *Model) UnmarshalBinary(b []byte) error {
	if len(b) < len(modelMagic)+3 || string(b[:len(modelMagic)]) != modelMagic {
		return errors.New("ocr: not a glyph model")
	}
	b = b[len(modelMagic):]
	n := int(b[0])
	if len(b) < 1+n+2 {
		return errors.New("ocr: truncated glyph model")
	}
	m.Classes = string(b[1 : 1+n])
	b = b[1+n:]
	if nf := binary.LittleEndian.Uint16(b); nf != NumFeatures {
		return fmt.Errorf("ocr: model has %d features, want %d", nf, NumFeatures)
	}
	b = b[2:]
	if len(b) < 2 {
		return errors.New("ocr: truncated glyph model")
	}
	m.Hidden = int(binary.LittleEndian.Uint16(b))
	b = b[2:]
	n1 := m.Hidden * (NumFeatures + 1)
	n2 := n * (m.inputs() + 1)
	if len(b) != 4*(n1+n2) {
		return errors.New("ocr: glyph model size mismatch")
	}
	all := make([]float32, n1+n2)
	for i := range all {
		all[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	m.W1, m.W = all[:n1], all[n1:]
	return nil
}

var (
	modelOnce sync.Once
	model     *Model
	modelErr  error
)

func defaultModel() (*Model, error) {
	modelOnce.Do(func() {
		m := &Model{}
		if err := m.UnmarshalBinary(modelBytes); err != nil {
			modelErr = fmt.Errorf("ocr: embedded glyph model: %w (run go run ./tools/ocrbtemplates)", err)
			return
		}
		model = m
	})
	return model, modelErr
}

// EmbeddedModel returns the MRZ glyph classifier built into the binary.
func EmbeddedModel() (*Model, error) { return defaultModel() }

// Scores returns the log-probabilities of every class for features f.
func (m *Model) Scores(f []float32) []float64 {
	n := len(m.Classes)
	in := f
	if m.Hidden > 0 {
		in = make([]float32, m.Hidden)
		for j := range in {
			w := m.W1[j*(NumFeatures+1):]
			s := w[NumFeatures]
			for i, v := range f {
				s += w[i] * v
			}
			in[j] = max(s, 0)
		}
	}
	ni := m.inputs()
	out := make([]float64, n)
	maxv := math.Inf(-1)
	for c := 0; c < n; c++ {
		w := m.W[c*(ni+1):]
		s := w[ni]
		for i, v := range in {
			s += w[i] * v
		}
		out[c] = float64(s)
		maxv = math.Max(maxv, out[c])
	}
	sum := 0.0
	for _, v := range out {
		sum += math.Exp(v - maxv)
	}
	lse := maxv + math.Log(sum)
	for c := range out {
		out[c] -= lse
	}
	return out
}

// classify returns the ranked readings of one cell for the MRZ parser:
// cost is the log-probability gap to the best class.
func (m *Model) classify(f []float32) mrz.Position {
	return m.rank(m.Scores(f))
}

// classifyViews classifies one cell from several cuts (the cell and the
// cell moved a little to either side). The log-probabilities are averaged;
// when a cut on its own reads another character, the position is a close
// call whatever the average says: a confident misread (a glyph crossed by
// background print, say) rarely survives a small shift unchanged, and
// only close calls may be settled by check digits.
func (m *Model) classifyViews(views [][]float32) mrz.Position {
	n := len(m.Classes)
	avg := make([]float64, n)
	tops := make([]int, 0, len(views))
	for _, f := range views {
		sc := m.Scores(f)
		top := 0
		for c := range sc {
			avg[c] += sc[c] / float64(len(views))
			if sc[c] > sc[top] {
				top = c
			}
		}
		tops = append(tops, top)
	}
	pos := m.rank(avg)
	for _, t := range tops {
		if m.Classes[t] != pos[0].Char {
			const closeCall = 0.5
			found := false
			for i := 1; i < len(pos); i++ {
				if pos[i].Char == m.Classes[t] {
					pos[i].Cost = math.Min(pos[i].Cost, closeCall)
					found = true
				}
			}
			if !found {
				pos = append(pos, mrz.Alt{Char: m.Classes[t], Cost: closeCall})
			}
		}
	}
	// Keep the alternatives ordered by cost.
	for a := 1; a < len(pos); a++ {
		for b := a; b > 1 && pos[b].Cost < pos[b-1].Cost; b-- {
			pos[b], pos[b-1] = pos[b-1], pos[b]
		}
	}
	return pos
}

// rank turns log-probabilities into ranked alternatives.
func (m *Model) rank(sc []float64) mrz.Position {
	type cs struct {
		c byte
		s float64
	}
	var all []cs
	for i, s := range sc {
		all = append(all, cs{m.Classes[i], s})
	}
	// Partial selection of the four best.
	for i := 0; i < 4 && i < len(all); i++ {
		for j := i + 1; j < len(all); j++ {
			if all[j].s > all[i].s {
				all[i], all[j] = all[j], all[i]
			}
		}
	}
	pos := mrz.Position{}
	for i := 0; i < 4 && i < len(all); i++ {
		cost := all[0].s - all[i].s
		if i > 0 && cost > 12 {
			break
		}
		pos = append(pos, mrz.Alt{Char: all[i].c, Cost: cost})
	}
	return pos
}
