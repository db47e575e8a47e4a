;; Row lookups and their scatter-add gradient with 128-bit SIMD, for the
;; MLP's first layer (see ../rows.ts). Widths must be multiples of 4.
;; All pointers are byte offsets into the exported memory; indices are i32.
(module
  (memory (export "memory") 1)

  ;; out[i] = ta[ia[i]] + tb[ib[i]] for i < n; rows of w floats.
  (func (export "gather2")
    (param $out i32) (param $ta i32) (param $tb i32) (param $ia i32) (param $ib i32)
    (param $n i32) (param $w i32)
    (local $rowBytes i32) (local $end i32) (local $ra i32) (local $rb i32) (local $j i32)
    (local.set $rowBytes (i32.shl (local.get $w) (i32.const 2)))
    (local.set $end (i32.add (local.get $ia) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $ia) (local.get $end)))
        (local.set $ra (i32.add (local.get $ta) (i32.mul (i32.load (local.get $ia)) (local.get $rowBytes))))
        (local.set $rb (i32.add (local.get $tb) (i32.mul (i32.load (local.get $ib)) (local.get $rowBytes))))
        (local.set $j (i32.const 0))
        (loop $cols
          (v128.store
            (i32.add (local.get $out) (local.get $j))
            (f32x4.add
              (v128.load (i32.add (local.get $ra) (local.get $j)))
              (v128.load (i32.add (local.get $rb) (local.get $j)))))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br_if $cols (i32.lt_u (local.get $j) (local.get $rowBytes))))
        (local.set $out (i32.add (local.get $out) (local.get $rowBytes)))
        (local.set $ia (i32.add (local.get $ia) (i32.const 4)))
        (local.set $ib (i32.add (local.get $ib) (i32.const 4)))
        (br $rows))))

  ;; ga[ia[i]] += g[i] and gb[ib[i]] += g[i] for i < n, in order of i.
  (func (export "scatter2")
    (param $g i32) (param $ga i32) (param $gb i32) (param $ia i32) (param $ib i32)
    (param $n i32) (param $w i32)
    (local $rowBytes i32) (local $end i32) (local $ra i32) (local $rb i32) (local $j i32) (local $x v128)
    (local.set $rowBytes (i32.shl (local.get $w) (i32.const 2)))
    (local.set $end (i32.add (local.get $ia) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $ia) (local.get $end)))
        (local.set $ra (i32.add (local.get $ga) (i32.mul (i32.load (local.get $ia)) (local.get $rowBytes))))
        (local.set $rb (i32.add (local.get $gb) (i32.mul (i32.load (local.get $ib)) (local.get $rowBytes))))
        (local.set $j (i32.const 0))
        (loop $cols
          (local.set $x (v128.load (i32.add (local.get $g) (local.get $j))))
          (v128.store (i32.add (local.get $ra) (local.get $j))
            (f32x4.add (v128.load (i32.add (local.get $ra) (local.get $j))) (local.get $x)))
          (v128.store (i32.add (local.get $rb) (local.get $j))
            (f32x4.add (v128.load (i32.add (local.get $rb) (local.get $j))) (local.get $x)))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br_if $cols (i32.lt_u (local.get $j) (local.get $rowBytes))))
        (local.set $g (i32.add (local.get $g) (local.get $rowBytes)))
        (local.set $ia (i32.add (local.get $ia) (i32.const 4)))
        (local.set $ib (i32.add (local.get $ib) (i32.const 4)))
        (br $rows))))
;; out[i] = max(ta[ia[i]] + tb[ib[i]], 0): gather2 followed by ReLU (NaN stays NaN).
  (func (export "gather2relu")
    (param $out i32) (param $ta i32) (param $tb i32) (param $ia i32) (param $ib i32)
    (param $n i32) (param $w i32)
    (local $rowBytes i32) (local $end i32) (local $ra i32) (local $rb i32) (local $j i32)
    (local.set $rowBytes (i32.shl (local.get $w) (i32.const 2)))
    (local.set $end (i32.add (local.get $ia) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $ia) (local.get $end)))
        (local.set $ra (i32.add (local.get $ta) (i32.mul (i32.load (local.get $ia)) (local.get $rowBytes))))
        (local.set $rb (i32.add (local.get $tb) (i32.mul (i32.load (local.get $ib)) (local.get $rowBytes))))
        (local.set $j (i32.const 0))
        (loop $cols
          (v128.store
            (i32.add (local.get $out) (local.get $j))
            (f32x4.max
              (f32x4.add
                (v128.load (i32.add (local.get $ra) (local.get $j)))
                (v128.load (i32.add (local.get $rb) (local.get $j))))
              (v128.const f32x4 0 0 0 0)))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br_if $cols (i32.lt_u (local.get $j) (local.get $rowBytes))))
        (local.set $out (i32.add (local.get $out) (local.get $rowBytes)))
        (local.set $ia (i32.add (local.get $ia) (i32.const 4)))
        (local.set $ib (i32.add (local.get $ib) (i32.const 4)))
        (br $rows))))

  ;; scatter2 of g[i] where act[i] > 0 (the ReLU derivative), +0 elsewhere.
  (func (export "scatter2relu")
    (param $g i32) (param $act i32) (param $ga i32) (param $gb i32) (param $ia i32) (param $ib i32)
    (param $n i32) (param $w i32)
    (local $rowBytes i32) (local $end i32) (local $ra i32) (local $rb i32) (local $j i32) (local $x v128)
    (local.set $rowBytes (i32.shl (local.get $w) (i32.const 2)))
    (local.set $end (i32.add (local.get $ia) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $ia) (local.get $end)))
        (local.set $ra (i32.add (local.get $ga) (i32.mul (i32.load (local.get $ia)) (local.get $rowBytes))))
        (local.set $rb (i32.add (local.get $gb) (i32.mul (i32.load (local.get $ib)) (local.get $rowBytes))))
        (local.set $j (i32.const 0))
        (loop $cols
          (local.set $x
            (v128.and
              (v128.load (i32.add (local.get $g) (local.get $j)))
              (f32x4.gt (v128.load (i32.add (local.get $act) (local.get $j))) (v128.const f32x4 0 0 0 0))))
          (v128.store (i32.add (local.get $ra) (local.get $j))
            (f32x4.add (v128.load (i32.add (local.get $ra) (local.get $j))) (local.get $x)))
          (v128.store (i32.add (local.get $rb) (local.get $j))
            (f32x4.add (v128.load (i32.add (local.get $rb) (local.get $j))) (local.get $x)))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br_if $cols (i32.lt_u (local.get $j) (local.get $rowBytes))))
        (local.set $g (i32.add (local.get $g) (local.get $rowBytes)))
        (local.set $act (i32.add (local.get $act) (local.get $rowBytes)))
        (local.set $ia (i32.add (local.get $ia) (i32.const 4)))
        (local.set $ib (i32.add (local.get $ib) (i32.const 4)))
        (br $rows))))
;; outT (w × n) = transpose of src (n × w) for the first n - n % 4 rows, by 4 × 4
  ;; blocks in registers (vector stores only; rows past the last block are left to the caller).
  (func (export "transpose4")
    (param $src i32) (param $outT i32) (param $n i32) (param $w i32)
    (local $rowBytes i32) (local $colBytes i32) (local $i i32) (local $j i32) (local $p i32) (local $t i32)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $rowBytes (i32.shl (local.get $w) (i32.const 2)))
    (local.set $colBytes (i32.shl (local.get $n) (i32.const 2)))
    (local.set $i (i32.const 0))
    (block $done
      (loop $rows
        (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $n)))
        (local.set $p (i32.add (local.get $src) (i32.mul (local.get $i) (local.get $rowBytes))))
        (local.set $t (i32.add (local.get $outT) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $j (i32.const 0))
        (loop $cols
          (local.set $r0 (v128.load (local.get $p)))
          (local.set $r1 (v128.load (i32.add (local.get $p) (local.get $rowBytes))))
          (local.set $r2 (v128.load (i32.add (local.get $p) (i32.shl (local.get $rowBytes) (i32.const 1)))))
          (local.set $r3 (v128.load (i32.add (local.get $p) (i32.mul (local.get $rowBytes) (i32.const 3)))))
          (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (local.get $r1)))
          (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (local.get $r1)))
          (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (local.get $r3)))
          (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (local.get $r3)))
          (v128.store (local.get $t) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
          (local.set $t (i32.add (local.get $t) (local.get $colBytes)))
          (v128.store (local.get $t) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
          (local.set $t (i32.add (local.get $t) (local.get $colBytes)))
          (v128.store (local.get $t) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
          (local.set $t (i32.add (local.get $t) (local.get $colBytes)))
          (v128.store (local.get $t) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
          (local.set $t (i32.add (local.get $t) (local.get $colBytes)))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (local.set $j (i32.add (local.get $j) (i32.const 4)))
          (br_if $cols (i32.lt_u (local.get $j) (local.get $w))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $rows))))
)
