interface CacheEntry {
  refs: number
}

/**
 * One replica's KV cache as block counts (no per-token state), with an optional prefix cache.
 *
 * A block is private (held by one sequence), cached and in use (a prefix block one or more running
 * sequences share, keyed by its prefix hash), or free. Cached blocks nobody holds stay free but keep
 * their content in LRU order, as vLLM's free queue does: a later prompt with the same prefix takes
 * them back, and a new allocation evicts the least recently released one first.
 */
export class KvCache {
  readonly total: number
  private privateUsed = 0
  private sharedInUse = 0
  private readonly entries = new Map<number, CacheEntry>()
  /** Cached blocks with no holder, least recently released first (Map keeps insertion order). */
  private readonly lru = new Map<number, CacheEntry>()

  constructor(totalBlocks: number) {
    this.total = totalBlocks
  }

  /** Blocks an allocation may take (free ones, cached-but-unheld ones included). */
  free(): number {
    return this.total - this.privateUsed - this.sharedInUse
  }

  /** Blocks held by running sequences. */
  used(): number {
    return this.privateUsed + this.sharedInUse
  }

  /** Takes `n` private blocks (the caller checked `free()`), evicting unheld cached blocks if needed. */
  allocate(n: number): void {
    this.privateUsed += n
    let over = this.privateUsed + this.sharedInUse + this.lru.size - this.total
    if (over <= 0) return
    for (const [hash] of this.lru) {
      this.lru.delete(hash)
      this.entries.delete(hash)
      if (--over === 0) break
    }
  }

  release(n: number): void {
    this.privateUsed -= n
  }

  /**
   * How many leading hashes are cached (at most `maxBlocks`), and how many of those are unheld:
   * taking those back costs free blocks.
   */
  lookup(hashes: readonly number[], maxBlocks: number): { blocks: number; unheld: number } {
    const n = Math.min(hashes.length, maxBlocks)
    let blocks = 0
    let unheld = 0
    while (blocks < n) {
      const e = this.entries.get(hashes[blocks])
      if (e === undefined) break
      if (e.refs === 0) unheld++
      blocks++
    }
    return { blocks, unheld }
  }

  /** Holds the first `n` hashes' cached blocks (they were found by `lookup`). */
  acquire(hashes: readonly number[], n: number): void {
    for (let i = 0; i < n; i++) this.ref(this.entries.get(hashes[i]) as CacheEntry, hashes[i])
  }

  /** Lets go of the first `n` hashes' blocks; the last holder's release makes a block evictable. */
  releaseShared(hashes: readonly number[], n: number): void {
    for (let i = 0; i < n; i++) {
      const h = hashes[i]
      const e = this.entries.get(h)
      if (e === undefined) continue
      if (--e.refs === 0) {
        this.sharedInUse--
        this.lru.set(h, e)
      }
    }
  }

  /**
   * A sequence finished computing one of its private blocks whose prefix hash is `hash`: the block
   * joins the cache. If another sequence cached the same prefix meanwhile, this one holds that
   * block instead and its own copy is freed (one physical block per prefix).
   */
  register(hash: number): void {
    this.privateUsed--
    const e = this.entries.get(hash)
    if (e !== undefined) {
      this.ref(e, hash)
      return
    }
    this.entries.set(hash, { refs: 1 })
    this.sharedInUse++
  }

  /** A restart: everything is gone. */
  reset(): void {
    this.privateUsed = 0
    this.sharedInUse = 0
    this.entries.clear()
    this.lru.clear()
  }

  private ref(e: CacheEntry, hash: number): void {
    if (e.refs === 0) {
      this.lru.delete(hash)
      this.sharedInUse++
    }
    e.refs++
  }
}
