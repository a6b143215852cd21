// waltool: a test oracle built from etcd 3.4's own wal package (GOPATH mode, offline).
//
//	waltool write DIR SEGMENT_BYTES < plan.json   writes a WAL with etcd's code, cutting
//	                                              segments at SEGMENT_BYTES (etcd: 64 MB)
//	waltool read DIR INDEX TERM [digest]          etcd's OpenForRead + ReadAll, as JSON (with
//	                                              digest, entry data as its SHA-256)
//	waltool ci DB                                 the db's meta/consistent_index, in decimal
//
// The plan is {"nodeId":"<dec>","clusterId":"<dec>","ops":[...]} where an op is
// {"entries":[{"index":N,"term":N,"type":N,"data":"<hex>"}],"hardState":{...}} (one Save)
// or {"snapshot":{"index":N,"term":N}} (one SaveSnapshot).
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	pb "go.etcd.io/etcd/etcdserver/etcdserverpb"
	"go.etcd.io/etcd/pkg/pbutil"
	"go.etcd.io/etcd/raft/raftpb"
	"go.etcd.io/etcd/wal"
	"go.etcd.io/etcd/wal/walpb"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
)

type entryJSON struct {
	Index uint64 `json:"index"`
	Term  uint64 `json:"term"`
	Type  int32  `json:"type"`
	Data  string `json:"data"`
}

type hardStateJSON struct {
	Term   uint64 `json:"term"`
	Vote   string `json:"vote"`
	Commit uint64 `json:"commit"`
}

type snapJSON struct {
	Index uint64 `json:"index"`
	Term  uint64 `json:"term"`
}

type opJSON struct {
	Entries   []entryJSON    `json:"entries"`
	HardState *hardStateJSON `json:"hardState"`
	Snapshot  *snapJSON      `json:"snapshot"`
}

type planJSON struct {
	NodeID    string   `json:"nodeId"`
	ClusterID string   `json:"clusterId"`
	Ops       []opJSON `json:"ops"`
}

type readJSON struct {
	Error     string        `json:"error"`
	NodeID    string        `json:"nodeId"`
	ClusterID string        `json:"clusterId"`
	HardState hardStateJSON `json:"hardState"`
	Entries   []entryJSON   `json:"entries"`
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func u64(s string) uint64 {
	if s == "" {
		return 0
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		fail(err)
	}
	return v
}

func write(dir string, segmentBytes int64) {
	var plan planJSON
	if err := json.NewDecoder(os.Stdin).Decode(&plan); err != nil {
		fail(err)
	}
	wal.SegmentSizeBytes = segmentBytes
	md := pbutil.MustMarshal(&pb.Metadata{NodeID: u64(plan.NodeID), ClusterID: u64(plan.ClusterID)})
	w, err := wal.Create(zap.NewNop(), dir, md)
	if err != nil {
		fail(err)
	}
	for _, op := range plan.Ops {
		if op.Snapshot != nil {
			if err := w.SaveSnapshot(walpb.Snapshot{Index: op.Snapshot.Index, Term: op.Snapshot.Term}); err != nil {
				fail(err)
			}
			continue
		}
		var st raftpb.HardState
		if op.HardState != nil {
			st = raftpb.HardState{Term: op.HardState.Term, Vote: u64(op.HardState.Vote), Commit: op.HardState.Commit}
		}
		ents := make([]raftpb.Entry, 0, len(op.Entries))
		for _, e := range op.Entries {
			data, err := hex.DecodeString(e.Data)
			if err != nil {
				fail(err)
			}
			ents = append(ents, raftpb.Entry{Index: e.Index, Term: e.Term, Type: raftpb.EntryType(e.Type), Data: data})
		}
		if err := w.Save(st, ents); err != nil {
			fail(err)
		}
	}
	if err := w.Close(); err != nil {
		fail(err)
	}
}

func read(dir string, index, term uint64, digest bool) {
	out := readJSON{Entries: []entryJSON{}}
	w, err := wal.OpenForRead(zap.NewNop(), dir, walpb.Snapshot{Index: index, Term: term})
	if err != nil {
		out.Error = err.Error()
	} else {
		md, st, ents, err := w.ReadAll()
		w.Close()
		if err != nil {
			out.Error = err.Error()
		}
		var m pb.Metadata
		if md != nil {
			pbutil.MustUnmarshal(&m, md)
		}
		out.NodeID = strconv.FormatUint(m.NodeID, 10)
		out.ClusterID = strconv.FormatUint(m.ClusterID, 10)
		out.HardState = hardStateJSON{Term: st.Term, Vote: strconv.FormatUint(st.Vote, 10), Commit: st.Commit}
		for _, e := range ents {
			data := hex.EncodeToString(e.Data)
			if digest {
				sum := sha256.Sum256(e.Data)
				data = hex.EncodeToString(sum[:])
			}
			out.Entries = append(out.Entries, entryJSON{Index: e.Index, Term: e.Term, Type: int32(e.Type), Data: data})
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(err)
	}
}

func consistentIndex(db string) {
	b, err := bolt.Open(db, 0400, &bolt.Options{ReadOnly: true})
	if err != nil {
		fail(err)
	}
	defer b.Close()
	err = b.View(func(tx *bolt.Tx) error {
		v := tx.Bucket([]byte("meta")).Get([]byte("consistent_index"))
		if len(v) == 0 {
			// etcd reads a missing index as 0: nothing applied yet
			fmt.Println(0)
			return nil
		}
		if len(v) != 8 {
			return fmt.Errorf("meta/consistent_index holds %d bytes", len(v))
		}
		fmt.Println(binary.BigEndian.Uint64(v))
		return nil
	})
	if err != nil {
		fail(err)
	}
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "ci" {
		consistentIndex(os.Args[2])
		return
	}
	if len(os.Args) == 4 && os.Args[1] == "write" {
		n, err := strconv.ParseInt(os.Args[3], 10, 64)
		if err != nil {
			fail(err)
		}
		write(os.Args[2], n)
		return
	}
	if (len(os.Args) == 5 || len(os.Args) == 6 && os.Args[5] == "digest") && os.Args[1] == "read" {
		read(os.Args[2], u64(os.Args[3]), u64(os.Args[4]), len(os.Args) == 6)
		return
	}
	fail(fmt.Errorf("usage: waltool write DIR SEGMENT_BYTES < plan.json | waltool read DIR INDEX TERM [digest] | waltool ci DB"))
}
