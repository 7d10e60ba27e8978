/* Internals of the strategic merge patch shared with its tests only.
 * Thread-safety: none; call before any patch is applied. */
#ifndef DTK_APISERVER_SMP_INT_H
#define DTK_APISERVER_SMP_INT_H

/* With enable != 0, list reordering models Go slices whose capacity is the
 * next power of two (what `kubectl patch --local` has after decoding JSON)
 * instead of kube-apiserver's capacity == length. Used by a test that
 * compares this module with kubectl. */
void dtk_smp__go_slice_capacity_pow2(int enable);

#endif
