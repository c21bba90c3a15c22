/** A bounded pool for many small file jobs. */

/** Runs `task` for 0..count-1 with at most `parallel` at once. */
export async function inParallel(
  count: number,
  parallel: number,
  task: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}
