/**
 * The shape of push items the push relies on (a structural subset of src/items' union, so the
 * push can be planned and tested with plain objects).
 */
export interface PushItemLike {
  kind: string;
  name: string;
  src: string | null;
  dest: string[];
  sha256sum: string | null;
  md5sum: string | null;
  signing_key: string | null;
  origin?: string | null;
  [field: string]: unknown;
}
