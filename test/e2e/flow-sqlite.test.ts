/** Flow control with real worker processes on SQLite (see flow-suite.ts). */
import { sqliteUrls } from '../support/engine-urls.js'
import { flowSuite, ofUrls } from './flow-suite.js'

flowSuite(ofUrls(sqliteUrls()))
