package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// result is one figure of a run: Message Plane's and, where the baseline
// has a counterpart, raw's from the same run.
type result struct {
	Scenario string   `json:"scenario"`
	Variant  string   `json:"variant"`
	Metric   string   `json:"metric"`
	Raw      *float64 `json:"raw,omitempty"`
	MP       float64  `json:"mp"`
}

func (r result) key() key { return key{r.Scenario, r.Variant, r.Metric} }

// run is what one mpbench run measured, as -json writes it.
type run struct {
	Mode   string   `json:"mode"`
	Scale  float64  `json:"scale"`
	Libzmq string   `json:"libzmq"`
	Rows   []result `json:"rows"`
}

func readRun(path string) (run, error) {
	var r run
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, &r)
	}
	if err == nil && r.Mode == "" {
		err = fmt.Errorf("no mode")
	}
	if err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

func writeRun(path string, r run) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err == nil {
		err = os.WriteFile(path, append(b, '\n'), 0o644)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// cell is one mode's figures of one row, one entry per run that has it.
type cell struct {
	values, ratios, measures []float64
	unmeasured               bool // a run had the row but not what its target needs
}

// line is one row of the combined table.
type line struct {
	key
	raws  []float64 // every mode's runs: the baseline is the same in all
	cells map[string]*cell
}

// report combines the runs of every mode. A run's rows may come in several
// files (bench.sh measures memory in a run of its own); a row's median is
// over the files that have it.
type report struct {
	modes  []string // in order of first appearance
	lines  []*line  // likewise
	libzmq string
	scales []float64
}

func combine(runs []run) *report {
	rep := &report{}
	byKey := map[key]*line{}
	for _, r := range runs {
		if !slices.Contains(rep.modes, r.Mode) {
			rep.modes = append(rep.modes, r.Mode)
		}
		if r.Libzmq != "" {
			rep.libzmq = r.Libzmq
		}
		if !slices.Contains(rep.scales, r.Scale) {
			rep.scales = append(rep.scales, r.Scale)
		}
		for _, row := range r.Rows {
			l := byKey[row.key()]
			if l == nil {
				l = &line{key: row.key(), cells: map[string]*cell{}}
				byKey[row.key()] = l
				rep.lines = append(rep.lines, l)
			}
			c := l.cells[r.Mode]
			if c == nil {
				c = &cell{}
				l.cells[r.Mode] = c
			}
			c.values = append(c.values, row.MP)
			if row.Raw != nil {
				l.raws = append(l.raws, *row.Raw)
				if *row.Raw != 0 {
					c.ratios = append(c.ratios, row.MP / *row.Raw)
				}
			}
			if g := goalFor(r.Mode, l.key); g != nil {
				if m, ok := g.of(row); ok {
					c.measures = append(c.measures, m)
				} else {
					c.unmeasured = true
				}
			}
		}
	}
	return rep
}

// verdict is a row's target in one mode and whether it holds.
type verdict struct {
	goal     *goal
	measured bool // every run had what the target needs
	met      bool
}

func (rep *report) verdict(l *line, mode string) verdict {
	v := verdict{goal: goalFor(mode, l.key)}
	c := l.cells[mode]
	if v.goal == nil || c == nil {
		return v
	}
	v.measured = len(c.measures) > 0 && !c.unmeasured
	v.met = v.measured && v.goal.holds(median(c.measures))
	return v
}

// tally is one mode's summary.
type tally struct {
	held, judged, unmeasured int
	missed                   []string
	failed                   float64 // requests, summed over runs
	runs                     int
}

func (rep *report) tally(mode string) tally {
	var t tally
	for _, l := range rep.lines {
		c := l.cells[mode]
		if c == nil {
			continue
		}
		t.runs = max(t.runs, len(c.values))
		if l.metric == "failed requests" {
			for _, f := range c.values {
				t.failed += f
			}
		}
		v := rep.verdict(l, mode)
		switch {
		case v.goal == nil:
		case !v.measured:
			t.unmeasured++
		case v.met:
			t.held++
			t.judged++
		default:
			t.judged++
			t.missed = append(t.missed, l.key.String())
		}
	}
	return t
}

func (rep *report) print(w io.Writer) {
	var runs []string
	for _, m := range rep.modes {
		runs = append(runs, fmt.Sprintf("%s %d", m, rep.tally(m).runs))
	}
	fmt.Fprintf(w, "Message Plane vs raw libzmq %s on this machine: medians over runs (%s), ratios taken within each run", rep.libzmq, strings.Join(runs, ", "))
	if len(rep.scales) != 1 || rep.scales[0] != 1 {
		var ss []string
		for _, s := range rep.scales {
			ss = append(ss, fmt.Sprint(s))
		}
		fmt.Fprintf(w, "; scale %s", strings.Join(ss, ", "))
	}
	fmt.Fprint(w, "\n\n")
	head := []string{"scenario", "variant", "metric", "raw"}
	for _, m := range rep.modes {
		head = append(head, m, "ratio", "target", "met")
	}
	table := [][]string{head}
	for _, l := range rep.lines {
		cols := []string{l.scenario, l.variant, l.metric, "-"}
		if len(l.raws) > 0 {
			cols[3] = num(median(l.raws))
		}
		for _, m := range rep.modes {
			c := l.cells[m]
			if c == nil {
				cols = append(cols, "", "", "", "")
				continue
			}
			cols = append(cols, num(median(c.values)), "-", "", "")
			if len(c.ratios) > 0 {
				cols[len(cols)-3] = fmt.Sprintf("%.2f", median(c.ratios))
			}
			if v := rep.verdict(l, m); v.goal != nil {
				cols[len(cols)-2] = v.goal.String()
				cols[len(cols)-1] = map[bool]string{true: "yes", false: "NO"}[v.met]
				if !v.measured {
					cols[len(cols)-1] = "?"
				}
			}
		}
		table = append(table, cols)
	}
	writeTable(w, table, 3)
	fmt.Fprintln(w, "\nratio: Message Plane / raw, per run, then the median. A reads row's raw is the raw echo's msgpack C=1 W=1 round trip.")
	for _, m := range rep.modes {
		t := rep.tally(m)
		s := fmt.Sprintf("%s: %d of %d targets hold", m, t.held, t.judged)
		if len(t.missed) > 0 {
			s += "; missed: " + strings.Join(t.missed, ", ")
		}
		if t.unmeasured > 0 {
			s += fmt.Sprintf("; %d without the figures they need (?)", t.unmeasured)
		}
		if t.failed > 0 {
			s += fmt.Sprintf("; %.0f requests FAILED", t.failed)
		}
		fmt.Fprintln(w, s)
	}
}

// writeTable aligns cells in columns: the first `left` columns (names) to
// the left, the rest (figures) to the right.
func writeTable(w io.Writer, rows [][]string, left int) {
	var width []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i > 0 {
				b.WriteString("  ")
			}
			if i < left {
				b.WriteString(c + pad)
			} else {
				b.WriteString(pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// median of xs; the mean of the middle two for an even count.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// num formats a figure: whole numbers bare, small fractions (ratios,
// seconds) with two decimals.
func num(v float64) string {
	if math.Abs(v) < 10 && v != math.Trunc(v) {
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.0f", v)
}
