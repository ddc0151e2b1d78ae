package dataset

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replaceLine sets line n (1-based) of file to s, keeping its CRLF ending.
func replaceLine(t *testing.T, file string, n int, s string) {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	lines := strings.Split(string(b), "\n")
	require.Less(t, n-1, len(lines), "%s has no line %d", file, n)
	if strings.HasSuffix(lines[n-1], "\r") {
		s += "\r"
	}
	lines[n-1] = s
	require.NoError(t, os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o644))
}

// TestLoadMalformedRow corrupts one row of a fixture and checks that the
// error names the file and line (and the fault).
func TestLoadMalformedRow(t *testing.T) {
	for _, tc := range []struct {
		name, fixture, file string
		line                int
		row, want           string
	}{
		{"100k rating not a number", "ml-100k", "u.data", 3, "1\t2\tfive\t874965758", "rating"},
		{"100k unknown movie", "ml-100k", "u.data", 4, "1\t99\t3\t874965758", `movie "99" not in the catalogue`},
		{"100k three fields", "ml-100k", "u.data", 5, "1\t2\t3", "3 fields, want 4"},
		{"100k item fields", "ml-100k", "u.item", 2, "2|GoldenEye (1995)|0|1", "fields, want 24"},
		{"100k genre flag", "ml-100k", "u.item", 2, "2|G|d||u|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0|2", "genre flag 19"},
		{"1m rating out of range", "ml-1m", "ratings.dat", 2, "1::6::7::978301260", "rating 7 out of range"},
		{"1m movie fields", "ml-1m", "movies.dat", 3, "3::Four Rooms (1995)", "2 fields, want 3"},
		{"1m negative time", "ml-1m", "ratings.dat", 4, "1::6::3::-5", "timestamp"},
		{"latest short row", "ml-latest", "ratings.csv", 5, "1,1,4.0", "wrong number of fields"},
		{"latest bad time", "ml-latest", "ratings.csv", 6, "1,1,4.0,yesterday", "timestamp"},
		{"latest empty user", "ml-latest", "ratings.csv", 7, ",1,4.0,1445714000", "empty user id"},
		{"latest bad quote", "ml-latest", "movies.csv", 3, `2,"Jumanji (1995,Adventure`, "movies.csv:3"},
		{"latest duplicate movie", "ml-latest", "movies.csv", 4, "1,Again,Drama", `duplicate item id "1"`},
		{"latest tag unknown movie", "ml-latest", "tags.csv", 2, "2,999,x,1445714994", `movie "999"`},
		{"latest missing column", "ml-latest", "ratings.csv", 1, "userId,movieId,score,timestamp", `missing column "rating"`},
		{"kuairec negative ratio", "kuairec", "small_matrix.csv", 4, "14,10,1,1,x,20200705,1593912503.438,-1", "watch_ratio -1, want >= 0"},
		{"kuairec no time", "kuairec", "small_matrix.csv", 3, "14,10,1,1,,,,1.5", "no timestamp and bad date"},
		{"kuairec bad video", "kuairec", "small_matrix.csv", 2, "14,v9,1,1,,20200705,1593912503.438,1.5", "bad video_id"},
		{"kuairec bad feat", "kuairec", "item_categories.csv", 3, "1,[27; 9]", "bad feat"},
		{"kuairec daily video", "kuairec", "item_daily_features.csv", 2, "x,20200705,441,NORMAL,2020-07-01,2522,t,1,1", "bad video_id"},
		{"gcdr unknown item", "kuairec-gcdr", "test.txt", 2, "19\t8,5,999", `item "999"`},
		{"gcdr no tab", "kuairec-gcdr", "valid.txt", 1, "14 9,10,1", "want user<TAB>"},
		{"gcdr bad tag", "kuairec-gcdr", "item_categories.txt", 4, "3\tx", "bad tag"},
		{"esci bad label", "esci", "examples.csv", 3, "1,wireless earbuds,q1,B05,us,X,1,1,train", `esci_label "X"`},
		{"esci unknown product", "esci", "examples.csv", 4, "2,wireless earbuds,q1,B99,us,E,1,1,train", `product "B99"`},
		{"esci query changes", "esci", "examples.csv", 5, "3,earbuds,q1,B04,us,C,1,1,train", `has query "earbuds" here`},
		{"generic unknown item", "generic-tiny", "interactions.csv", 4, "u1,zz,3,8812800", `item "zz" not in items.jsonl`},
		{"generic bad json", "generic-tiny", "items.jsonl", 2, `{"id":"a2",`, "decode item"},
		{"generic no id", "generic-tiny", "items.jsonl", 3, `{"title":"x"}`, "no id"},
		{"generic jsonl no value", "generic-jsonl", "interactions.jsonl", 3, `{"user":"u1","item":"a1"}`, "needs user, item and value"},
		{"generic jsonl negative", "generic-jsonl", "interactions.jsonl", 2, `{"user":"u1","item":"a1","value":-2}`, "value -2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyFixture(t, tc.fixture)
			replaceLine(t, filepath.Join(dir, tc.file), tc.line, tc.row)
			_, err := Load(context.Background(), dir)
			require.Error(t, err, "Load with a bad %s:%d", tc.file, tc.line)
			want := filepath.Join(dir, tc.file) + ":" + strconv.Itoa(tc.line)
			assert.Contains(t, err.Error(), want, "error names file and line")
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "dataset: load "), "error %q has the package prefix", err)
		})
	}
}
