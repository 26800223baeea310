/** DESIGN.md section 1's example: the input and the exact output every path must produce. */
export const DESIGN_INPUT = `Song,Date,Number of Plays
Umbrella,2020-01-02,200
Umbrella,2020-01-01,100
In The End,2020-01-01,500
Umbrella,2020-01-01,50
In The End,2020-01-01,1000
Umbrella,2020-01-02,50
In The End,2020-01-02,500
`

export const DESIGN_OUTPUT = `Song,Date,Total Number of Plays for Date
Umbrella,2020-01-02,250
Umbrella,2020-01-01,150
In The End,2020-01-01,1500
In The End,2020-01-02,500
`
