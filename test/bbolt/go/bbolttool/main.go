// bbolttool: the test oracle for src/bbolt, built with Debian's go.etcd.io/bbolt in GOPATH mode.
//
//	bbolttool check [-dump] FILE   open read-only, run tx.Check(), print JSON: check errors,
//	                               page size, tx.Size(), txid, free pages, and per top-level
//	                               bucket its entry count, a SHA-256 over its entries and
//	                               (with -dump) the entries in hex; nested buckets listed apart
//	bbolttool make FILE < SPEC     write FILE with real bbolt from a JSON spec (see makeSpec)
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
)

type bucketDump struct {
	Name    string      `json:"name"`
	Count   int         `json:"count"`
	Sha256  string      `json:"sha256"`
	Entries [][2]string `json:"entries,omitempty"`
	Nested  []string    `json:"nested"`
}

type checkResult struct {
	Errors    []string     `json:"errors"`
	PageSize  int          `json:"pageSize"`
	Size      int64        `json:"size"`
	Txid      int          `json:"txid"`
	FreePages int          `json:"freePages"`
	Buckets   []bucketDump `json:"buckets"`
}

// entryDigest hashes each entry as u32be(len k) k u32be(len v) v, the same as the tests do.
func entryDigest(h interface{ Write([]byte) (int, error) }, k, v []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(k)))
	h.Write(n[:])
	h.Write(k)
	binary.BigEndian.PutUint32(n[:], uint32(len(v)))
	h.Write(n[:])
	h.Write(v)
}

func check(path string, dump bool) error {
	db, err := bolt.Open(path, 0400, &bolt.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer db.Close()
	res := checkResult{Errors: []string{}, Buckets: []bucketDump{}, PageSize: db.Info().PageSize}
	err = db.View(func(tx *bolt.Tx) error {
		for e := range tx.Check() {
			res.Errors = append(res.Errors, e.Error())
		}
		res.Size = tx.Size()
		res.Txid = tx.ID()
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			d := bucketDump{Name: hex.EncodeToString(name), Nested: []string{}}
			h := sha256.New()
			err := b.ForEach(func(k, v []byte) error {
				if v == nil {
					d.Nested = append(d.Nested, hex.EncodeToString(k))
					return nil
				}
				d.Count++
				entryDigest(h, k, v)
				if dump {
					d.Entries = append(d.Entries, [2]string{hex.EncodeToString(k), hex.EncodeToString(v)})
				}
				return nil
			})
			d.Sha256 = hex.EncodeToString(h.Sum(nil))
			res.Buckets = append(res.Buckets, d)
			return err
		})
	})
	if err != nil {
		return err
	}
	res.FreePages = db.Stats().FreePageN
	return json.NewEncoder(os.Stdout).Encode(res)
}

// makeSpec: each element of Txs is one db.Update with its ops in order.
type makeSpec struct {
	PageSize       int      `json:"pageSize"`
	NoFreelistSync bool     `json:"noFreelistSync"`
	FillPercent    float64  `json:"fillPercent"`
	Txs            [][]opSp `json:"txs"`
}

// opSp: op is create | deleteBucket | put | del | createNested | putNested; names, keys
// and values are hex; fillLen/fillByte make a value of fillLen copies of fillByte.
type opSp struct {
	Op       string `json:"op"`
	Bucket   string `json:"bucket"`
	Nested   string `json:"nested"`
	Key      string `json:"key"`
	Value    string `json:"value"`
	FillLen  int    `json:"fillLen"`
	FillByte byte   `json:"fillByte"`
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func apply(tx *bolt.Tx, o opSp, fill float64) error {
	value := unhex(o.Value)
	if o.FillLen > 0 {
		value = make([]byte, o.FillLen)
		for i := range value {
			value[i] = o.FillByte
		}
	}
	name := unhex(o.Bucket)
	switch o.Op {
	case "create":
		_, err := tx.CreateBucket(name)
		return err
	case "deleteBucket":
		return tx.DeleteBucket(name)
	}
	b := tx.Bucket(name)
	if b == nil {
		return fmt.Errorf("no bucket %s", o.Bucket)
	}
	if fill > 0 {
		b.FillPercent = fill
	}
	switch o.Op {
	case "put":
		return b.Put(unhex(o.Key), value)
	case "del":
		return b.Delete(unhex(o.Key))
	case "createNested":
		_, err := b.CreateBucket(unhex(o.Nested))
		return err
	case "putNested":
		return b.Bucket(unhex(o.Nested)).Put(unhex(o.Key), value)
	}
	return fmt.Errorf("unknown op %q", o.Op)
}

func make_(path string) error {
	var spec makeSpec
	if err := json.NewDecoder(os.Stdin).Decode(&spec); err != nil {
		return err
	}
	db, err := bolt.Open(path, 0600, &bolt.Options{PageSize: spec.PageSize, NoFreelistSync: spec.NoFreelistSync})
	if err != nil {
		return err
	}
	defer db.Close()
	for _, ops := range spec.Txs {
		err := db.Update(func(tx *bolt.Tx) error {
			for _, o := range ops {
				if err := apply(tx, o, spec.FillPercent); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func main() {
	var err error
	switch {
	case len(os.Args) == 3 && os.Args[1] == "check":
		err = check(os.Args[2], false)
	case len(os.Args) == 4 && os.Args[1] == "check" && os.Args[2] == "-dump":
		err = check(os.Args[3], true)
	case len(os.Args) == 3 && os.Args[1] == "make":
		err = make_(os.Args[2])
	default:
		err = fmt.Errorf("usage: bbolttool check [-dump] FILE | bbolttool make FILE < SPEC")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
