/** How the gateway reaches an S3-compatible store: shared by the read store (s3-store.ts) and the upload store (upload-s3.ts). */
export interface S3StoreOptions {
  /** An S3-compatible server's URL, e.g. http://127.0.0.1:9000; AWS when absent. */
  endpoint?: string;
  /** Default: the SDK's chain (AWS_REGION, ~/.aws/config), then 'us-east-1'. */
  region?: string;
  /** Bucket in the path rather than the host name; most S3-compatible servers need it. */
  forcePathStyle?: boolean;
  /** Explicit keys (tests); the SDK's default credential chain when absent. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Whole-call deadline: connect, headers and body. Default 5000. */
  requestTimeoutMs?: number;
  /** Response headers must arrive within this, or the call fails as unavailable. Default 2000. */
  firstByteTimeoutMs?: number;
  /** How long one full-length first-byte timeout keeps the short bound in force. Default 5000. */
  stallHoldMs?: number;
  /** TCP connect deadline. Default 2000. */
  connectTimeoutMs?: number;
  /** Keep-alive sockets per host. Default 256. */
  maxSockets?: number;
}
