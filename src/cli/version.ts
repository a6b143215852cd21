/** tsetcd's own release version (the etcd API level it implements is SERVER_VERSION). */
export const TSETCD_VERSION = '0.1.0';
